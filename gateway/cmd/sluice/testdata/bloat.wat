;; A plugin that appends a 100-byte line to the body until the host stops
;; it: the message may not outgrow the listener's max_message_size.
(module
  (import "sluice" "body_append" (func $body_append (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567\0d\0a")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (loop $again
      (drop (call $body_append (i32.const 0) (i32.const 100)))
      (br $again))
    (i32.const 0)))
