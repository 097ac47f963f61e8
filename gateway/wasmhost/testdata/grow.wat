;; grow.wat: grows the message at data (sdk/ABI.md §7 size rule). Tag
;; "mode" picks what: "h" header_add of a 100-byte field, "b" body_append
;; of a 100-byte line; tag "n" is the decimal number of times, "forever"
;; or absent loops until the host stops the call.
(module
  (import "sluice" "tag_get" (func $tag_get (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "header_add" (func $header_add (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "body_append" (func $body_append (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "mode")
  (data (i32.const 8) "n")
  (data (i32.const 16) "X-Pad")
  ;; 91-byte value: "X-Pad: " + 91 + CRLF = 100 bytes rendered
  (data (i32.const 32) "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890")
  ;; 98 bytes + CRLF = a 100-byte body line
  (data (i32.const 128) "01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567\0d\0a")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  ;; count parses tag "n" (buffer at 512) as decimal; -1 if absent.
  (func $count (result i32)
    (local $len i32) (local $i i32) (local $n i32)
    (local.set $len (call $tag_get (i32.const 8) (i32.const 1) (i32.const 512) (i32.const 16)))
    (if (i32.lt_s (local.get $len) (i32.const 0)) (then (return (i32.const -1))))
    (block $done
      (loop $digits
        (br_if $done (i32.ge_s (local.get $i) (local.get $len)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
          (i32.sub (i32.load8_u (i32.add (i32.const 512) (local.get $i))) (i32.const 48))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digits)))
    (local.get $n))
  (func (export "sluice_on_data") (result i32)
    (local $n i32) (local $mode i32)
    (drop (call $tag_get (i32.const 0) (i32.const 4) (i32.const 256) (i32.const 1)))
    (local.set $mode (i32.load8_u (i32.const 256)))
    (local.set $n (call $count))
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.eq (local.get $mode) (i32.const 104)) ;; 'h'
          (then (drop (call $header_add (i32.const 16) (i32.const 5) (i32.const 32) (i32.const 91))))
          (else (drop (call $body_append (i32.const 128) (i32.const 100)))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (i32.const 0)))
