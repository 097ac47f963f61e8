;; A minimal hand-written plugin for the CLI tests: the data hook adds
;; "X-Stamp: wat" and tags the message.
(module
  (import "sluice" "header_add" (func $header_add (param i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "X-Stamp")
  (data (i32.const 16) "wat")
  (data (i32.const 32) "stamped")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (drop (call $header_add (i32.const 0) (i32.const 7) (i32.const 16) (i32.const 3)))
    (drop (call $tag_set (i32.const 32) (i32.const 7) (i32.const 16) (i32.const 3)))
    (i32.const 0)))
