;; The probe of sdk/CONFORMANCE.md §2, written by hand in the WebAssembly
;; text format: every hook, every verdict, every kind of plugin error and the
;; header, body and config readers, recorded in tags for the conformance
;; suite (gateway/conformance). Build it with
;;
;;   wat2wasm probe.wat -o probe.wasm
;;
;; Memory map:
;;   0..1023        constant strings
;;   1024..1087     digits of the number being formatted (NUM .. NUM_END)
;;   65536..131071  CHUNK: the 64 KiB body read buffer
;;   131072..       SCR: values read from the host; memory grows when one
;;                  does not fit (sdk/ABI.md §3: the host returns the full
;;                  length and copies nothing, so grow and ask again)
;; Nothing survives a call except grown memory: no per-message state.
(module
  (import "sluice" "info" (func $info (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "config" (func $config (param i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "rcpt_count" (func $rcpt_count (result i32)))
  (import "sluice" "header_count" (func $header_count (result i32)))
  (import "sluice" "header_name" (func $header_name (param i32 i32 i32) (result i32)))
  (import "sluice" "header_value" (func $header_value (param i32 i32 i32) (result i32)))
  (import "sluice" "header_find" (func $header_find (param i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $header_add (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_insert" (func $header_insert (param i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_change" (func $header_change (param i32 i32 i32) (result i32)))
  (import "sluice" "header_delete" (func $header_delete (param i32) (result i32)))
  (import "sluice" "body_read" (func $body_read (param i32 i32 i32) (result i32)))
  (import "sluice" "body_replace" (func $body_replace (param i32 i32) (result i32)))
  (import "sluice" "body_append" (func $body_append (param i32 i32) (result i32)))

  (memory (export "memory") 3)

  ;; info keys
  (data (i32.const 0) "client.ip")            ;; 9
  (data (i32.const 16) "helo")                ;; 4
  (data (i32.const 32) "mail.from")           ;; 9
  (data (i32.const 48) "rcpt")                ;; 4
  ;; tag keys
  (data (i32.const 64) "probe.connect")       ;; 13
  (data (i32.const 80) "probe.helo")          ;; 10
  (data (i32.const 96) "probe.mail")          ;; 10
  (data (i32.const 112) "probe.rcpt.count")   ;; 16
  (data (i32.const 128) "probe.headers")      ;; 13
  (data (i32.const 144) "probe.header.count") ;; 18
  (data (i32.const 176) "probe.subject2")     ;; 14
  (data (i32.const 192) "probe.body.len")     ;; 14
  (data (i32.const 208) "probe.body.sum")     ;; 14
  (data (i32.const 224) "probe.config.len")   ;; 16
  (data (i32.const 240) "probe.config.sum")   ;; 16
  ;; header names and values
  (data (i32.const 256) "subject")            ;; 7
  (data (i32.const 272) "X-Probe-Delete")     ;; 14
  (data (i32.const 288) "X-Probe-Change")     ;; 14
  (data (i32.const 304) "changed")            ;; 7
  (data (i32.const 320) "X-Probe-Top")        ;; 11
  (data (i32.const 336) "1")                  ;; 1
  (data (i32.const 352) "X-Probe")            ;; 7
  (data (i32.const 368) "wat")                ;; 3
  (data (i32.const 384) "X-Probe-Body")       ;; 12
  (data (i32.const 400) "replaced\0d\0a")     ;; 10
  (data (i32.const 416) "appended\0d\0a")     ;; 10
  (data (i32.const 432) ":")                  ;; 1
  (data (i32.const 440) "\0a")                ;; 1
  ;; replies
  (data (i32.const 448) "5.7.1")              ;; 5
  (data (i32.const 464) "4.7.1")              ;; 5
  (data (i32.const 480) "2.0.0")              ;; 5
  (data (i32.const 496) "probe reject")       ;; 12
  (data (i32.const 512) "probe tempfail")     ;; 14
  (data (i32.const 528) "probe quarantine")   ;; 16
  (data (i32.const 548) "ok")                 ;; 2
  (data (i32.const 560) "x\0d\0a250 OK")      ;; 9
  (data (i32.const 576) "wrong class")        ;; 11
  (data (i32.const 592) "probe blocked")      ;; 13
  ;; local parts of the mail table, and "blocked"
  (data (i32.const 608) "reject")             ;; 6
  (data (i32.const 624) "tempfail")           ;; 8
  (data (i32.const 640) "accept")             ;; 6
  (data (i32.const 656) "discard")            ;; 7
  (data (i32.const 672) "quarantine")         ;; 10
  (data (i32.const 688) "badverdict")         ;; 10
  (data (i32.const 704) "badreply")           ;; 8
  (data (i32.const 720) "crlfreply")          ;; 9
  (data (i32.const 736) "mismatch")           ;; 8
  (data (i32.const 752) "trap")               ;; 4
  (data (i32.const 768) "blocked")            ;; 7
  (data (i32.const 800) "0123456789abcdef")   ;; 16

  (global $NUM i32 (i32.const 1024))
  (global $NUM_END i32 (i32.const 1088))
  (global $CHUNK i32 (i32.const 65536))
  (global $CHUNK_CAP i32 (i32.const 65536))
  (global $SCR i32 (i32.const 131072))

  (global $FNV_BASIS i32 (i32.const 0x811c9dc5))
  (global $FNV_PRIME i32 (i32.const 16777619))

  (func (export "sluice_abi_version") (result i32) (i32.const 1))

  ;; ---- helpers ----

  ;; scr_cap: bytes available at SCR.
  (func $scr_cap (result i32)
    (i32.sub (i32.mul (memory.size) (i32.const 65536)) (global.get $SCR)))

  ;; grow_for: make SCR hold at least n bytes; trap if memory cannot grow.
  (func $grow_for (param $n i32)
    (local $pages i32)
    (local.set $pages
      (i32.sub
        (i32.shr_u (i32.add (i32.add (global.get $SCR) (local.get $n)) (i32.const 65535)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then
        (if (i32.lt_s (memory.grow (local.get $pages)) (i32.const 0))
          (then unreachable)))))

  ;; Each *_scr function copies a value to SCR, growing memory and asking
  ;; again while it does not fit, and returns its length, or -1 (NOT_FOUND).
  (func $info_scr (param $key i32) (param $key_len i32) (result i32)
    (local $n i32)
    (loop $again
      (local.set $n (call $info (local.get $key) (local.get $key_len) (global.get $SCR) (call $scr_cap)))
      (if (i32.gt_s (local.get $n) (call $scr_cap))
        (then (call $grow_for (local.get $n)) (br $again))))
    (local.get $n))

  (func $name_scr (param $i i32) (result i32)
    (local $n i32)
    (loop $again
      (local.set $n (call $header_name (local.get $i) (global.get $SCR) (call $scr_cap)))
      (if (i32.gt_s (local.get $n) (call $scr_cap))
        (then (call $grow_for (local.get $n)) (br $again))))
    (local.get $n))

  (func $value_scr (param $i i32) (result i32)
    (local $n i32)
    (loop $again
      (local.set $n (call $header_value (local.get $i) (global.get $SCR) (call $scr_cap)))
      (if (i32.gt_s (local.get $n) (call $scr_cap))
        (then (call $grow_for (local.get $n)) (br $again))))
    (local.get $n))

  (func $config_scr (result i32)
    (local $n i32)
    (loop $again
      (local.set $n (call $config (global.get $SCR) (call $scr_cap)))
      (if (i32.gt_s (local.get $n) (call $scr_cap))
        (then (call $grow_for (local.get $n)) (br $again))))
    (local.get $n))

  ;; fnv: FNV-1a 32 of len bytes at p, continuing from h.
  (func $fnv (param $h i32) (param $p i32) (param $len i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (global.get $FNV_PRIME)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $h))

  ;; eq: are the len bytes at a and b the same?
  (func $eq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $len)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; is: is [p, p+len) exactly the constant [c, c+clen)?
  (func $is (param $p i32) (param $len i32) (param $c i32) (param $clen i32) (result i32)
    (if (result i32) (i32.eq (local.get $len) (local.get $clen))
      (then (call $eq (local.get $p) (local.get $c) (local.get $len)))
      (else (i32.const 0))))

  ;; last_at: the offset of the last '@' in [p, p+len), or -1.
  (func $last_at (param $p i32) (param $len i32) (result i32)
    (local $i i32)
    (local.set $i (local.get $len))
    (block $done
      (loop $back
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br_if $done (i32.lt_s (local.get $i) (i32.const 0)))
        (br_if $done (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 0x40)))
        (br $back)))
    (local.get $i))

  ;; tag_scr: tag key = the n bytes at SCR (none if n is NOT_FOUND).
  (func $tag_scr (param $key i32) (param $key_len i32) (param $n i32)
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (local.set $n (i32.const 0))))
    (drop (call $tag_set (local.get $key) (local.get $key_len) (global.get $SCR) (local.get $n))))

  ;; tag_hex: tag key = h as 8 lowercase hex digits.
  (func $tag_hex (param $key i32) (param $key_len i32) (param $h i32)
    (local $i i32)
    (local.set $i (i32.const 8))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (global.get $NUM) (local.get $i))
        (i32.load8_u (i32.add (i32.const 800) (i32.and (local.get $h) (i32.const 15)))))
      (local.set $h (i32.shr_u (local.get $h) (i32.const 4)))
      (br_if $digit (local.get $i)))
    (drop (call $tag_set (local.get $key) (local.get $key_len) (global.get $NUM) (i32.const 8))))

  ;; tag_dec: tag key = v in decimal, without leading zeros.
  (func $tag_dec (param $key i32) (param $key_len i32) (param $v i32)
    (local $p i32)
    (local.set $p (global.get $NUM_END))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 0x30) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $v)))
    (drop (call $tag_set (local.get $key) (local.get $key_len)
      (local.get $p) (i32.sub (global.get $NUM_END) (local.get $p)))))

  ;; ---- hooks ----

  (func (export "sluice_on_connect") (result i32)
    (call $tag_scr (i32.const 64) (i32.const 13) (call $info_scr (i32.const 0) (i32.const 9)))
    (i32.const 0))

  (func (export "sluice_on_helo") (result i32)
    (call $tag_scr (i32.const 80) (i32.const 10) (call $info_scr (i32.const 16) (i32.const 4)))
    (i32.const 0))

  ;; on_mail answers the verdict or plugin error named by the sender's
  ;; local part (the bytes before the last '@').
  (func (export "sluice_on_mail") (result i32)
    (local $n i32) (local $at i32)
    (local.set $n (call $info_scr (i32.const 32) (i32.const 9)))
    (call $tag_scr (i32.const 96) (i32.const 10) (local.get $n))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $at (call $last_at (global.get $SCR) (local.get $n)))
    (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 608) (i32.const 6)) ;; reject
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 448) (i32.const 5) (i32.const 496) (i32.const 12)))
        (return (i32.const 2))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 624) (i32.const 8)) ;; tempfail
      (then
        (drop (call $set_reply (i32.const 451) (i32.const 464) (i32.const 5) (i32.const 512) (i32.const 14)))
        (return (i32.const 3))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 640) (i32.const 6)) ;; accept
      (then (return (i32.const 1))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 656) (i32.const 7)) ;; discard
      (then (return (i32.const 4))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 672) (i32.const 10)) ;; quarantine
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 448) (i32.const 5) (i32.const 528) (i32.const 16)))
        (return (i32.const 5))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 688) (i32.const 10)) ;; badverdict
      (then (return (i32.const 7))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 704) (i32.const 8)) ;; badreply: traps
      (then
        (drop (call $set_reply (i32.const 250) (i32.const 480) (i32.const 5) (i32.const 548) (i32.const 2)))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 720) (i32.const 9)) ;; crlfreply: traps
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 448) (i32.const 5) (i32.const 560) (i32.const 9)))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 736) (i32.const 8)) ;; mismatch
      (then
        (drop (call $set_reply (i32.const 451) (i32.const 464) (i32.const 5) (i32.const 576) (i32.const 11)))
        (return (i32.const 2))))
    (if (call $is (global.get $SCR) (local.get $at) (i32.const 752) (i32.const 4)) ;; trap
      (then unreachable))
    (i32.const 0))

  (func (export "sluice_on_rcpt") (result i32)
    (local $n i32)
    (call $tag_dec (i32.const 112) (i32.const 16) (call $rcpt_count))
    (local.set $n (call $info_scr (i32.const 48) (i32.const 4)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (if (call $is (global.get $SCR) (call $last_at (global.get $SCR) (local.get $n)) (i32.const 768) (i32.const 7))
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 448) (i32.const 5) (i32.const 592) (i32.const 13)))
        (return (i32.const 2))))
    (i32.const 0))

  (func (export "sluice_on_data") (result i32)
    (local $count i32) (local $i i32) (local $h i32) (local $n i32) (local $off i32)

    ;; 1. every header field: name ":" value "\n"
    (local.set $count (call $header_count))
    (local.set $h (global.get $FNV_BASIS))
    (block $done
      (loop $field
        (br_if $done (i32.ge_s (local.get $i) (local.get $count)))
        (local.set $n (call $name_scr (local.get $i)))
        (local.set $h (call $fnv (local.get $h) (global.get $SCR) (local.get $n)))
        (local.set $h (call $fnv (local.get $h) (i32.const 432) (i32.const 1)))
        (local.set $n (call $value_scr (local.get $i)))
        (local.set $h (call $fnv (local.get $h) (global.get $SCR) (local.get $n)))
        (local.set $h (call $fnv (local.get $h) (i32.const 440) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $field)))
    (call $tag_hex (i32.const 128) (i32.const 13) (local.get $h))
    (call $tag_dec (i32.const 144) (i32.const 18) (local.get $count))

    ;; 2. the second Subject
    (local.set $i (call $header_find (i32.const 256) (i32.const 7) (i32.const 1)))
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then (call $tag_scr (i32.const 176) (i32.const 14) (call $value_scr (local.get $i)))))

    ;; 3. the body, 64 KiB at a time into CHUNK
    (local.set $h (global.get $FNV_BASIS))
    (block $end
      (loop $chunk
        (local.set $n (call $body_read (local.get $off) (global.get $CHUNK) (global.get $CHUNK_CAP)))
        (br_if $end (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $h (call $fnv (local.get $h) (global.get $CHUNK) (local.get $n)))
        (local.set $off (i32.add (local.get $off) (local.get $n)))
        (br $chunk)))
    (call $tag_dec (i32.const 192) (i32.const 14) (local.get $off))
    (call $tag_hex (i32.const 208) (i32.const 14) (local.get $h))

    ;; 4. the config, exactly as handed over
    (local.set $n (call $config_scr))
    (call $tag_dec (i32.const 224) (i32.const 16) (local.get $n))
    (call $tag_hex (i32.const 240) (i32.const 16)
      (call $fnv (global.get $FNV_BASIS) (global.get $SCR) (local.get $n)))

    ;; 5. mutations
    (local.set $i (call $header_find (i32.const 272) (i32.const 14) (i32.const 0)))
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then (drop (call $header_delete (local.get $i)))))
    (local.set $i (call $header_find (i32.const 288) (i32.const 14) (i32.const 0)))
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then (drop (call $header_change (local.get $i) (i32.const 304) (i32.const 7)))))
    (drop (call $header_insert (i32.const 0) (i32.const 320) (i32.const 11) (i32.const 336) (i32.const 1)))
    (drop (call $header_add (i32.const 352) (i32.const 7) (i32.const 368) (i32.const 3)))
    (if (i32.ge_s (call $header_find (i32.const 384) (i32.const 12) (i32.const 0)) (i32.const 0))
      (then
        (drop (call $body_replace (i32.const 400) (i32.const 10)))
        (drop (call $body_append (i32.const 416) (i32.const 10)))))
    (i32.const 0))
)
