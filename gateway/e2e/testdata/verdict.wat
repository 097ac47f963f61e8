;; Milter-mode verdict test (gateway/e2e/milter_test.go). Its config is
;; {"v":N}; the data hook acts only on messages whose first recipient starts
;; with the digit N, and continues otherwise: N = 4 discards, 5 quarantines
;; with the reason "held for review", 8 and 9 spin forever (a plugin
;; timeout; two digits so that two plugins with different on_error can).
(module
  (import "sluice" "config" (func $config (param i32 i32) (result i32)))
  (import "sluice" "rcpt_get" (func $rcpt_get (param i32 i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "5.7.1")
  (data (i32.const 32) "held for review")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (local $d i32) (local $v i32)
    (drop (call $config (i32.const 256) (i32.const 16)))
    (local.set $d (i32.load8_u (i32.const 261)))
    (if (i32.lt_s (call $rcpt_get (i32.const 0) (i32.const 512) (i32.const 256)) (i32.const 1))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u (i32.const 512)) (local.get $d))
      (then (return (i32.const 0))))
    (local.set $v (i32.sub (local.get $d) (i32.const 48)))
    (if (i32.ge_u (local.get $v) (i32.const 8))
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $v) (i32.const 5))
      (then (drop (call $set_reply (i32.const 550) (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 15)))))
    (local.get $v)))
