;; Milter-mode verdict test (gateway/e2e/milter_test.go): the data hook
;; returns the verdict in its config {"v":N} (4 discard, "5" quarantine with the
;; reason "held for review"), or spins forever on 9 (a plugin timeout).
(module
  (import "sluice" "config" (func $config (param i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "5.7.1")
  (data (i32.const 32) "held for review")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (local $v i32)
    (drop (call $config (i32.const 256) (i32.const 16)))
    (local.set $v (i32.sub (i32.load8_u (i32.const 261)) (i32.const 48)))
    (if (i32.eq (local.get $v) (i32.const 9))
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $v) (i32.const 5))
      (then (drop (call $set_reply (i32.const 550) (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 15)))))
    (local.get $v)))
