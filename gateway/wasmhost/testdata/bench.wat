;; Benchmark hook: on_data returns continue and does nothing else.
(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32) (i32.const 0))
)
