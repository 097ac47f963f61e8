;; A plugin for the `sluice test` exit-status tests. rcpt: a recipient
;; starting with "x" is rejected (550 5.1.1 No such user), one starting with
;; "t" is tempfailed (default reply). data: mail.from starting with "q"
;; quarantines, with "d" discards; the tag body_end is "crlf" when the body
;; the plugin reads ends with CRLF, "none" otherwise.
(module
  (import "sluice" "info" (func $info (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "body_read" (func $body_read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "rcpt")
  (data (i32.const 8) "mail.from")
  (data (i32.const 24) "5.1.1")
  (data (i32.const 32) "No such user")
  (data (i32.const 48) "body_end")
  (data (i32.const 64) "crlf")
  (data (i32.const 72) "none")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_rcpt") (result i32)
    (local $n i32)
    (local.set $n (call $info (i32.const 0) (i32.const 4) (i32.const 1024) (i32.const 256)))
    (if (i32.le_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 120)) ;; 'x'
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 24) (i32.const 5) (i32.const 32) (i32.const 12)))
        (return (i32.const 2))))
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 116)) ;; 't'
      (then (return (i32.const 3))))
    (i32.const 0))
  (func (export "sluice_on_data") (result i32)
    (local $n i32)
    (local.set $n (call $body_read (i32.const 0) (i32.const 4096) (i32.const 8192)))
    (if (i32.and (i32.ge_s (local.get $n) (i32.const 2))
          (i32.eq (i32.load16_u (i32.add (i32.const 4094) (local.get $n))) (i32.const 2573))) ;; "\r\n"
      (then (drop (call $tag_set (i32.const 48) (i32.const 8) (i32.const 64) (i32.const 4))))
      (else (drop (call $tag_set (i32.const 48) (i32.const 8) (i32.const 72) (i32.const 4)))))
    (local.set $n (call $info (i32.const 8) (i32.const 9) (i32.const 1024) (i32.const 256)))
    (if (i32.le_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 113)) (then (return (i32.const 5)))) ;; 'q'
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 100)) (then (return (i32.const 4)))) ;; 'd'
    (i32.const 0)))
