;; Milter-mode header index test (gateway/e2e/milter_test.go): in the data
;; phase, deletes the first X-Dup field, changes the value of the X-Dup
;; field that is then second, and inserts X-Top at the top of the header.
(module
  (import "sluice" "header_find" (func $find (param i32 i32 i32) (result i32)))
  (import "sluice" "header_change" (func $change (param i32 i32 i32) (result i32)))
  (import "sluice" "header_delete" (func $delete (param i32) (result i32)))
  (import "sluice" "header_insert" (func $insert (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "X-Dup")
  (data (i32.const 16) "changed three")
  (data (i32.const 32) "X-Top")
  (data (i32.const 48) "inserted")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (local $i i32)
    (local.set $i (call $find (i32.const 0) (i32.const 5) (i32.const 0)))
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then (drop (call $delete (local.get $i)))))
    (local.set $i (call $find (i32.const 0) (i32.const 5) (i32.const 1)))
    (if (i32.ge_s (local.get $i) (i32.const 0))
      (then (drop (call $change (local.get $i) (i32.const 16) (i32.const 13)))))
    (drop (call $insert (i32.const 0) (i32.const 32) (i32.const 5) (i32.const 48) (i32.const 8)))
    (i32.const 0)))
