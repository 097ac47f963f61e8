;; The example filter of sdk/CONFORMANCE.md §1, written by hand in the
;; WebAssembly text format: no SDK, no allocator, no WASI. Build it with
;;
;;   wat2wasm example.wat -o example.wasm
;;
;; It speaks plugin ABI v1 (sdk/ABI.md) directly:
;; - sluice_configure finds the top-level "greeting" string in the JSON
;;   config once per instance and remembers where it is;
;; - sluice_on_data adds X-Example-Lang and X-Example-Greeting;
;; - sluice_on_rcpt rejects the recipient whose local part is "blocked".
;;
;; Memory map (page 0 is static, the config lives from page 1 on):
;;   0..1023      constant strings
;;   1024..65535  buffer for info("rcpt")
;;   65536..      the config JSON, read once by sluice_configure
(module
  (import "sluice" "log" (func $log (param i32 i32 i32)))
  (import "sluice" "config" (func $config (param i32 i32) (result i32)))
  (import "sluice" "info" (func $info (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $header_add (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "set_reply" (func $set_reply (param i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)

  (data (i32.const 0) "rcpt")                                   ;; 4
  (data (i32.const 16) "X-Example-Lang")                        ;; 14
  (data (i32.const 32) "wat")                                   ;; 3
  (data (i32.const 48) "X-Example-Greeting")                    ;; 18
  (data (i32.const 80) "hello")                                 ;; 5
  (data (i32.const 96) "5.7.1")                                 ;; 5
  (data (i32.const 112) "Recipient blocked by the wat example") ;; 36
  (data (i32.const 160) "blocked")                              ;; 7
  (data (i32.const 176) "greeting")                             ;; 8
  (data (i32.const 192) "config: greeting must be a JSON string without escapes") ;; 54

  (global $rcpt_buf i32 (i32.const 1024))
  (global $rcpt_cap i32 (i32.const 64512))
  (global $cfg i32 (i32.const 65536))

  ;; The greeting: "hello" unless the config names another. Set once per
  ;; instance by sluice_configure; never changed by a hook.
  (global $greeting (mut i32) (i32.const 80))
  (global $greeting_len (mut i32) (i32.const 5))

  (func (export "sluice_abi_version") (result i32) (i32.const 1))

  ;; eq: do the len bytes at a and b match?
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

  ;; skip_ws: the first position at or after p, before end, that is not
  ;; JSON whitespace.
  (func $skip_ws (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eqz
          (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x20)) (i32.eq (local.get $c) (i32.const 0x09)))
                  (i32.or (i32.eq (local.get $c) (i32.const 0x0a)) (i32.eq (local.get $c) (i32.const 0x0d))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; string_end: p is just after an opening quote; returns the position of
  ;; the closing quote (or end), stepping over backslash escapes.
  (func $string_end (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eq (local.get $c) (i32.const 0x22)))
        (if (i32.eq (local.get $c) (i32.const 0x5c))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; has_escape: is there a backslash in [p, end)?
  (func $has_escape (param $p i32) (param $end i32) (result i32)
    (block $none
      (loop $next
        (br_if $none (i32.ge_u (local.get $p) (local.get $end)))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5c))
          (then (return (i32.const 1))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; sluice_configure reads the config (growing memory if it does not fit)
  ;; and scans it once: a string at depth 1 followed by ':' is a key of the
  ;; top-level object; if it is "greeting", its value must be a plain string.
  (func (export "sluice_configure") (result i32)
    (local $n i32) (local $cap i32) (local $p i32) (local $end i32)
    (local $depth i32) (local $c i32) (local $s i32) (local $e i32)
    (loop $read
      (local.set $cap (i32.sub (i32.mul (memory.size) (i32.const 65536)) (global.get $cfg)))
      (local.set $n (call $config (global.get $cfg) (local.get $cap)))
      (if (i32.gt_s (local.get $n) (local.get $cap))
        (then
          (if (i32.lt_s
                (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $n) (local.get $cap)) (i32.const 65535))
                                        (i32.const 16)))
                (i32.const 0))
            (then (return (i32.const 1))))
          (br $read))))
    (local.set $p (global.get $cfg))
    (local.set $end (i32.add (global.get $cfg) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x7b)) (i32.eq (local.get $c) (i32.const 0x5b)))
          (then (local.set $depth (i32.add (local.get $depth) (i32.const 1)))))
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x7d)) (i32.eq (local.get $c) (i32.const 0x5d)))
          (then (local.set $depth (i32.sub (local.get $depth) (i32.const 1)))))
        (if (i32.eq (local.get $c) (i32.const 0x22))
          (then
            (local.set $s (local.get $p))
            (local.set $e (call $string_end (local.get $s) (local.get $end)))
            (local.set $p (call $skip_ws (i32.add (local.get $e) (i32.const 1)) (local.get $end)))
            (if (i32.and
                  (i32.and (i32.eq (local.get $depth) (i32.const 1))
                           (i32.lt_u (local.get $p) (local.get $end)))
                  (i32.and (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x3a))
                           (i32.eq (i32.sub (local.get $e) (local.get $s)) (i32.const 8))))
              (then
                (if (call $eq (local.get $s) (i32.const 176) (i32.const 8))
                  (then
                    (local.set $p (call $skip_ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
                    (if (i32.or (i32.ge_u (local.get $p) (local.get $end))
                                (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x22)))
                      (then
                        (call $log (i32.const 3) (i32.const 192) (i32.const 54))
                        (return (i32.const 1))))
                    (local.set $s (i32.add (local.get $p) (i32.const 1)))
                    (local.set $e (call $string_end (local.get $s) (local.get $end)))
                    (if (call $has_escape (local.get $s) (local.get $e))
                      (then
                        (call $log (i32.const 3) (i32.const 192) (i32.const 54))
                        (return (i32.const 1))))
                    (global.set $greeting (local.get $s))
                    (global.set $greeting_len (i32.sub (local.get $e) (local.get $s)))
                    (local.set $p (i32.add (local.get $e) (i32.const 1)))))))))
        (br $next)))
    (i32.const 0))

  (func (export "sluice_on_data") (result i32)
    (drop (call $header_add (i32.const 16) (i32.const 14) (i32.const 32) (i32.const 3)))
    (drop (call $header_add (i32.const 48) (i32.const 18) (global.get $greeting) (global.get $greeting_len)))
    (i32.const 0))

  ;; sluice_on_rcpt: the local part is the bytes before the last '@'. An
  ;; address longer than the buffer (RFC 5321 paths are at most 256 bytes)
  ;; is not "blocked@...".
  (func (export "sluice_on_rcpt") (result i32)
    (local $n i32) (local $at i32)
    (local.set $n (call $info (i32.const 0) (i32.const 4) (global.get $rcpt_buf) (global.get $rcpt_cap)))
    (if (i32.or (i32.lt_s (local.get $n) (i32.const 0)) (i32.gt_s (local.get $n) (global.get $rcpt_cap)))
      (then (return (i32.const 0))))
    ;; find the last '@': $at is its offset, or -1
    (local.set $at (local.get $n))
    (block $found
      (loop $back
        (local.set $at (i32.sub (local.get $at) (i32.const 1)))
        (br_if $found (i32.lt_s (local.get $at) (i32.const 0)))
        (br_if $found (i32.eq (i32.load8_u (i32.add (global.get $rcpt_buf) (local.get $at))) (i32.const 0x40)))
        (br $back)))
    (if (i32.and (i32.eq (local.get $at) (i32.const 7))
                 (call $eq (global.get $rcpt_buf) (i32.const 160) (i32.const 7)))
      (then
        (drop (call $set_reply (i32.const 550) (i32.const 96) (i32.const 5) (i32.const 112) (i32.const 36)))
        (return (i32.const 2))))
    (i32.const 0))
)
