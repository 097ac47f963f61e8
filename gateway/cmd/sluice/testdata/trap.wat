;; A plugin whose data hook always traps: its circuit breaker opens.
(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32) unreachable))
