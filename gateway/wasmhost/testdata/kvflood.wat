;; kvflood.wat: writes distinct keys to the key/value store in a loop
;; (sdk/ABI.md §4.8 quota). Tag "n" is the decimal number of keys; the
;; key is the loop counter's 4 bytes. The hook returns continue when every
;; kv_set returned 0, tempfail (3) when one returned QUOTA (-4), and traps
;; on any other result.
(module
  (import "sluice" "tag_get" (func $tag_get (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "kv_set" (func $kv_set (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "n")
  (data (i32.const 32) "value")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $count (result i32)
    (local $len i32) (local $i i32) (local $n i32)
    (local.set $len (call $tag_get (i32.const 8) (i32.const 1) (i32.const 512) (i32.const 16)))
    (block $done
      (loop $digits
        (br_if $done (i32.ge_s (local.get $i) (local.get $len)))
        (local.set $n (i32.add (i32.mul (local.get $n) (i32.const 10))
          (i32.sub (i32.load8_u (i32.add (i32.const 512) (local.get $i))) (i32.const 48))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $digits)))
    (local.get $n))
  (func (export "sluice_on_data") (result i32)
    (local $i i32) (local $n i32) (local $r i32) (local $quota i32)
    (local.set $n (call $count))
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.const 0) (local.get $i))
        (local.set $r (call $kv_set (i32.const 0) (i32.const 4) (i32.const 32) (i32.const 5) (i32.const 0)))
        (if (i32.eq (local.get $r) (i32.const -4))
          (then (local.set $quota (i32.const 1)))
          (else (if (i32.ne (local.get $r) (i32.const 0)) (then unreachable))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (if (result i32) (local.get $quota) (then (i32.const 3)) (else (i32.const 0)))))
