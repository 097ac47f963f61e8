;; A command module (exports _start, no _initialize): must be refused.
(module
  (memory (export "memory") 1)
  (func (export "_start"))
  (func (export "sluice_abi_version") (result i32) (i32.const 1)))
