;; A hostile plugin for the load-bound tests: sluice_configure writes
;; "configuring" to stdout, then sleeps 60 s (poll_oneoff on a clock, what
;; Go's time.Sleep and C's nanosleep become); the hooks are harmless.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "configuring\n")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_configure") (result i32)
    ;; one iovec at 300: "configuring\n"
    (i32.store (i32.const 300) (i32.const 200))
    (i32.store (i32.const 304) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 310)))
    ;; one relative clock subscription at 0 (timeout at 24): 60 s
    (i64.store (i32.const 24) (i64.const 60000000000))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
    (i32.const 0))
  (func (export "sluice_on_mail") (result i32) (i32.const 0)))
