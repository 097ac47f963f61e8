;; A well-behaved plugin: reads its config and info keys, finds a header,
;; reads the body in small chunks, sets tags, adds a header and rewrites the
;; body (data phase); rejects one recipient with its own reply (rcpt phase).
(module
  (import "sluice" "log" (func $log (param i32 i32 i32)))
  (import "sluice" "config" (func $config (param i32 i32) (result i32)))
  (import "sluice" "info" (func $info (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_find" (func $header_find (param i32 i32 i32) (result i32)))
  (import "sluice" "header_value" (func $header_value (param i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $header_add (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "body_read" (func $body_read (param i32 i32 i32) (result i32)))
  (import "sluice" "body_replace" (func $body_replace (param i32 i32) (result i32)))
  (import "sluice" "body_append" (func $body_append (param i32 i32) (result i32)))
  (memory (export "memory") 1)

  (data (i32.const 0) "session.id")
  (data (i32.const 16) "phase")
  (data (i32.const 32) "subject")
  (data (i32.const 48) "X-Checked")
  (data (i32.const 64) "yes")
  (data (i32.const 80) "cfg")
  (data (i32.const 88) "sid")
  (data (i32.const 96) "ph")
  (data (i32.const 104) "subj")
  (data (i32.const 112) "-- footer\0d\0a")
  (data (i32.const 128) "bad@example.com")
  (data (i32.const 144) "5.7.1")
  (data (i32.const 160) "no such user")
  (data (i32.const 176) "configured")
  (data (i32.const 192) "mail.from")
  (data (i32.const 208) "from")
  (data (i32.const 216) "rcpt_nf")
  (data (i32.const 224) "1")
  (data (i32.const 232) "rcpt")

  (global $configured (mut i32) (i32.const 0))

  (func (export "sluice_abi_version") (result i32) (i32.const 1))

  (func (export "sluice_configure") (result i32)
    (call $log (i32.const 1) (i32.const 176) (i32.const 10))
    (global.set $configured (i32.const 1))
    (i32.const 0))

  ;; info(key) -> tag, when the key is available
  (func $info_to_tag (param $k i32) (param $kl i32) (param $t i32) (param $tl i32)
    (local $n i32)
    (local.set $n (call $info (local.get $k) (local.get $kl) (i32.const 4096) (i32.const 1024)))
    (if (i32.ge_s (local.get $n) (i32.const 0))
      (then (drop (call $tag_set (local.get $t) (local.get $tl) (i32.const 4096) (local.get $n))))))

  (func (export "sluice_on_data") (result i32)
    (local $n i32) (local $i i32) (local $off i32)
    (if (i32.eqz (global.get $configured)) (then unreachable))
    ;; config -> tag cfg
    (local.set $n (call $config (i32.const 4096) (i32.const 1024)))
    (drop (call $tag_set (i32.const 80) (i32.const 3) (i32.const 4096) (local.get $n)))
    (call $info_to_tag (i32.const 0) (i32.const 10) (i32.const 88) (i32.const 3))
    (call $info_to_tag (i32.const 16) (i32.const 5) (i32.const 96) (i32.const 2))
    (call $info_to_tag (i32.const 192) (i32.const 9) (i32.const 208) (i32.const 4))
    ;; rcpt is NOT_FOUND outside the rcpt phase -> tag rcpt_nf=1
    (if (i32.eq (call $info (i32.const 232) (i32.const 4) (i32.const 4096) (i32.const 1024)) (i32.const -1))
      (then (drop (call $tag_set (i32.const 216) (i32.const 7) (i32.const 224) (i32.const 1)))))
    ;; first "subject" field (case-insensitive) -> tag subj
    (local.set $i (call $header_find (i32.const 32) (i32.const 7) (i32.const 0)))
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then
        (local.set $n (call $header_value (local.get $i) (i32.const 4096) (i32.const 1024)))
        (drop (call $tag_set (i32.const 104) (i32.const 4) (i32.const 4096) (local.get $n)))))
    ;; read the body 7 bytes at a time into 8192.., write it back plus a footer
    (block $done
      (loop $more
        (local.set $n (call $body_read (local.get $off)
          (i32.add (i32.const 8192) (local.get $off)) (i32.const 7)))
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $off (i32.add (local.get $off) (local.get $n)))
        (br $more)))
    (drop (call $body_replace (i32.const 8192) (local.get $off)))
    (drop (call $body_append (i32.const 112) (i32.const 11)))
    (drop (call $header_add (i32.const 48) (i32.const 9) (i32.const 64) (i32.const 3)))
    (i32.const 0))

  (func (export "sluice_on_rcpt") (result i32)
    (local $n i32)
    (local.set $n (call $info (i32.const 232) (i32.const 4) (i32.const 4096) (i32.const 1024)))
    (if (i32.and (i32.eq (local.get $n) (i32.const 15))
                 (call $memeq (i32.const 4096) (i32.const 128) (i32.const 15)))
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 144) (i32.const 5) (i32.const 160) (i32.const 12)))
        (return (i32.const 2))))
    (i32.const 0))

  (func $memeq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $ne
      (loop $l
        (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
        (br_if $ne (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (i32.const 0))
)
