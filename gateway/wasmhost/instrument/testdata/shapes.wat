;; Every control-flow shape the rewrite must keep working: each exported
;; function takes an i32 and returns what it computes, through branches to
;; the function label, returns from nested blocks, loops and ifs, and
;; multi-value results.
(module
  (type $pair (func (result i32 i64)))
  (type $i2i (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $nested $ret_loop)
  (global $g (mut i32) (i32.const 7))

  ;; nested blocks, br to an outer block
  (func $nested (export "nested") (param i32) (result i32)
    (block $a (result i32)
      (block $b
        (block $c
          (br_if $c (i32.eqz (local.get 0)))
          (br $b))
        (br $a (i32.const 10)))
      (i32.const 20)))

  ;; br to the function label, from the top and from deep inside
  (func $br_func (export "br_func") (param i32) (result i32)
    (block
      (block
        (if (i32.gt_s (local.get 0) (i32.const 5))
          (then (br 3 (i32.const 100))))))
    (br 0 (i32.add (local.get 0) (i32.const 1))))

  ;; br_if to the function label
  (func $br_if_func (export "br_if_func") (param i32) (result i32)
    (drop (br_if 0 (i32.const 1) (i32.and (local.get 0) (i32.const 1))))
    (i32.const 2))

  ;; br_table whose targets include the function label
  (func $br_table (export "br_table") (param i32) (result i32)
    (i32.add (i32.const 1)
      (block $x (result i32)
        (drop (block $y (result i32)
          (br_table $x $y 2 (i32.const 55) (local.get 0))))
        (return (i32.const 66)))))

  ;; return inside if, else and loop
  (func $ret_if (export "ret_if") (param i32) (result i32)
    (if (local.get 0)
      (then (return (i32.const 1)))
      (else (if (i32.eqz (local.get 0)) (then (return (i32.const 2))))))
    (i32.const 3))

  (func $ret_loop (export "ret_loop") (param i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.ge_s (local.get $i) (local.get 0)) (then (return (local.get $i))))
      (br $l))
    (unreachable))

  ;; multi-value results: return from a block, br to the function label, a
  ;; block with parameters
  (func $multi (param i32) (result i32 i64)
    (i32.const 3)
    (block (param i32) (result i32)
      (if (local.get 0) (then (return (i32.const 5) (i64.const 6))))
      (drop)
      (i32.const 9))
    (br 0 (i64.extend_i32_s (local.get 0))))
  (func $pair (type $pair)
    (call $multi (i32.const 0)))
  (func (export "multi") (param i32) (result i32)
    (call $multi (local.get 0))
    (i32.wrap_i64)
    (i32.add))

  ;; a function with no result that returns early
  (func $store (param i32)
    (if (local.get 0) (then (global.set $g (local.get 0)) (return)))
    (global.set $g (i32.const -1)))
  (func (export "store") (param i32) (result i32)
    (call $store (local.get 0))
    (global.get $g))

  ;; calls through the table, typed select, and every prefix
  (func (export "misc") (param i32) (result i32)
    (local v128)
    (local.set 1 (i32x4.splat (local.get 0)))
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 16))
    (memory.copy (i32.const 16) (i32.const 0) (i32.const 16))
    (i32.add
      (i32.add
        (call_indirect (type $i2i) (local.get 0) (i32.and (local.get 0) (i32.const 1)))
        (i32x4.extract_lane 2 (i32x4.add (local.get 1) (v128.load (i32.const 16)))))
      (i32.add
        (select (result i32) (i32.extend8_s (local.get 0)) (i32.trunc_sat_f64_s (f64.const 1e30))
          (ref.is_null (ref.null func)))
        (i32.wrap_i64 (i64.trunc_sat_f32_u (f32.const -3)))))))
