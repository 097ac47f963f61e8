;; A plugin that misbehaves on demand: every hook reads the tag "mode" and
;; its first byte picks the misbehaviour (see $dispatch). Used for the
;; hostile-plugin rows of docs/TESTPLAN.md F.
(module
  (import "sluice" "tag_get" (func $tag_get (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $header_add (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "mail_set" (func $mail_set (param i32 i32) (result i32)))
  (import "sluice" "rcpt_get" (func $rcpt_get (param i32 i32 i32) (result i32)))
  (import "sluice" "rcpt_count" (func $rcpt_count (result i32)))
  (import "sluice" "rcpt_remove" (func $rcpt_remove (param i32 i32) (result i32)))
  (import "sluice" "body_replace" (func $body_replace (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)

  (data (i32.const 0) "mode")
  (data (i32.const 8) "X-Bad")
  (data (i32.const 16) "a\0d\0ab")
  (data (i32.const 24) "x\0d\0a250 OK")
  (data (i32.const 40) "4.7.1")
  (data (i32.const 48) "later")
  (data (i32.const 56) "5.7.1")
  (data (i32.const 64) "a@b.example")
  (data (i32.const 80) "rand")
  (data (i32.const 88) "X-Before")
  (data (i32.const 96) "1")
  (data (i32.const 104) "bad\0abody")
  (data (i32.const 112) "a\00b")

  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_connect") (result i32) (call $dispatch))
  (func (export "sluice_on_mail") (result i32) (call $dispatch))
  (func (export "sluice_on_rcpt") (result i32) (call $dispatch))
  (func (export "sluice_on_data") (result i32) (call $dispatch))

  (func $rec (param $n i32) (result i32)
    (i32.add (call $rec (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func $hex (param $v i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $v) (i32.const 10))
      (then (i32.add (local.get $v) (i32.const 48)))
      (else (i32.add (local.get $v) (i32.const 87)))))

  (func $dispatch (result i32)
    (local $m i32) (local $i i32) (local $n i32)
    (if (i32.lt_s (call $tag_get (i32.const 0) (i32.const 4) (i32.const 1024) (i32.const 16)) (i32.const 1))
      (then (return (i32.const 0))))
    (local.set $m (i32.load8_u (i32.const 1024)))
    ;; a: behave
    (if (i32.eq (local.get $m) (i32.const 97)) (then (return (i32.const 0))))
    ;; b: trap
    (if (i32.eq (local.get $m) (i32.const 98)) (then unreachable))
    ;; c: infinite loop
    (if (i32.eq (local.get $m) (i32.const 99)) (then (loop $forever (br $forever))))
    ;; d: unbounded recursion
    (if (i32.eq (local.get $m) (i32.const 100)) (then (return (call $rec (i32.const 0)))))
    ;; e: grow memory one page at a time until grow fails
    (if (i32.eq (local.get $m) (i32.const 101))
      (then
        (block $full
          (loop $grow
            (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
            (br $grow)))
        (return (i32.const 0))))
    ;; f: pointer outside memory
    (if (i32.eq (local.get $m) (i32.const 102))
      (then (return (call $header_add (i32.const 0x7fffff00) (i32.const 5) (i32.const 96) (i32.const 1)))))
    ;; g: invalid verdict
    (if (i32.eq (local.get $m) (i32.const 103)) (then (return (i32.const 7))))
    ;; h: 4xx reply with a reject verdict
    (if (i32.eq (local.get $m) (i32.const 104))
      (then
        (drop (call $set_reply (i32.const 451) (i32.const 40) (i32.const 5) (i32.const 48) (i32.const 5)))
        (return (i32.const 2))))
    ;; i: header value with a bare CRLF
    (if (i32.eq (local.get $m) (i32.const 105))
      (then (return (call $header_add (i32.const 8) (i32.const 5) (i32.const 16) (i32.const 4)))))
    ;; j: unfolded 2000-byte header value
    (if (i32.eq (local.get $m) (i32.const 106))
      (then
        (memory.fill (i32.const 4096) (i32.const 97) (i32.const 2000))
        (return (call $header_add (i32.const 8) (i32.const 5) (i32.const 4096) (i32.const 2000)))))
    ;; k: reply text that smuggles a second reply
    (if (i32.eq (local.get $m) (i32.const 107))
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 56) (i32.const 5) (i32.const 24) (i32.const 9)))
        (return (i32.const 2))))
    ;; l: change the sender (refused outside mail and data)
    (if (i32.eq (local.get $m) (i32.const 108))
      (then (return (call $mail_set (i32.const 64) (i32.const 11)))))
    ;; m: 8 random bytes from WASI, hex-encoded into tag "rand"
    (if (i32.eq (local.get $m) (i32.const 109))
      (then
        (if (call $random_get (i32.const 2048) (i32.const 8)) (then unreachable))
        (loop $h
          (local.set $n (i32.load8_u (i32.add (i32.const 2048) (local.get $i))))
          (i32.store8 (i32.add (i32.const 2100) (i32.shl (local.get $i) (i32.const 1)))
            (call $hex (i32.shr_u (local.get $n) (i32.const 4))))
          (i32.store8 (i32.add (i32.const 2101) (i32.shl (local.get $i) (i32.const 1)))
            (call $hex (i32.and (local.get $n) (i32.const 15))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $h (i32.lt_u (local.get $i) (i32.const 8))))
        (return (call $tag_set (i32.const 80) (i32.const 4) (i32.const 2100) (i32.const 16)))))
    ;; n: header value with NUL
    (if (i32.eq (local.get $m) (i32.const 110))
      (then (return (call $header_add (i32.const 8) (i32.const 5) (i32.const 112) (i32.const 3)))))
    ;; o: a valid change, then a trap
    (if (i32.eq (local.get $m) (i32.const 111))
      (then
        (drop (call $header_add (i32.const 88) (i32.const 8) (i32.const 96) (i32.const 1)))
        (drop (call $tag_set (i32.const 80) (i32.const 4) (i32.const 96) (i32.const 1)))
        unreachable))
    ;; p: body with a bare LF
    (if (i32.eq (local.get $m) (i32.const 112))
      (then (return (call $body_replace (i32.const 104) (i32.const 8)))))
    ;; q: remove every recipient
    (if (i32.eq (local.get $m) (i32.const 113))
      (then
        (block $none
          (loop $each
            (br_if $none (i32.eqz (call $rcpt_count)))
            (local.set $n (call $rcpt_get (i32.const 0) (i32.const 3000) (i32.const 256)))
            (drop (call $rcpt_remove (i32.const 3000) (local.get $n)))
            (br $each)))
        (return (i32.const 0))))
    ;; r: negative length
    (if (i32.eq (local.get $m) (i32.const 114))
      (then (return (call $header_add (i32.const 8) (i32.const -5) (i32.const 96) (i32.const 1)))))
    ;; t: a valid tempfail with its own reply
    (if (i32.eq (local.get $m) (i32.const 116))
      (then
        (drop (call $set_reply (i32.const 451) (i32.const 40) (i32.const 5) (i32.const 48) (i32.const 5)))
        (return (i32.const 3))))
    ;; u: a 250 reply; v: a 699 reply (both invalid codes)
    (if (i32.eq (local.get $m) (i32.const 117))
      (then (return (call $set_reply (i32.const 250) (i32.const 0) (i32.const 0) (i32.const 48) (i32.const 5)))))
    (if (i32.eq (local.get $m) (i32.const 118))
      (then (return (call $set_reply (i32.const 699) (i32.const 0) (i32.const 0) (i32.const 48) (i32.const 5)))))
    ;; w: a 5xx reply with a tempfail verdict
    (if (i32.eq (local.get $m) (i32.const 119))
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 56) (i32.const 5) (i32.const 48) (i32.const 5)))
        (return (i32.const 3))))
    (i32.const 0))
)
