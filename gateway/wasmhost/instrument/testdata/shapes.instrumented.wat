(module
  (type (;0;) (func (result i32 i64)))
  (type (;1;) (func (param i32) (result i32)))
  (type (;2;) (func (param i32) (result i32 i64)))
  (type (;3;) (func (param i32)))
  (type (;4;) (func))
  (import "sluice:yield" "yield" (func (;0;) (type 4)))
  (func (;1;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 384
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 15
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      block (result i32)  ;; label = @2
        block  ;; label = @3
          block  ;; label = @4
            local.get 0
            i32.eqz
            br_if 0 (;@4;)
            br 1 (;@3;)
          end
          i32.const 10
          br 1 (;@2;)
        end
        i32.const 20
      end
    end
    global.get 1
    i32.const 384
    i32.add
    global.set 1)
  (func (;2;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 400
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 17
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      block  ;; label = @2
        block  ;; label = @3
          local.get 0
          i32.const 5
          i32.gt_s
          if  ;; label = @4
            i32.const 100
            br 3 (;@1;)
          end
        end
      end
      local.get 0
      i32.const 1
      i32.add
      br 0 (;@1;)
    end
    global.get 1
    i32.const 400
    i32.add
    global.set 1)
  (func (;3;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 336
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 9
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      i32.const 1
      local.get 0
      i32.const 1
      i32.and
      br_if 0 (;@1;)
      drop
      i32.const 2
    end
    global.get 1
    i32.const 336
    i32.add
    global.set 1)
  (func (;4;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 376
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 14
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      i32.const 1
      block (result i32)  ;; label = @2
        block (result i32)  ;; label = @3
          i32.const 55
          local.get 0
          br_table 1 (;@2;) 0 (;@3;) 2 (;@1;)
        end
        drop
        i32.const 66
        br 1 (;@1;)
      end
      i32.add
    end
    global.get 1
    i32.const 376
    i32.add
    global.set 1)
  (func (;5;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 384
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 15
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      local.get 0
      if  ;; label = @2
        i32.const 1
        br 1 (;@1;)
      else
        local.get 0
        i32.eqz
        if  ;; label = @3
          i32.const 2
          br 2 (;@1;)
        end
      end
      i32.const 3
    end
    global.get 1
    i32.const 384
    i32.add
    global.set 1)
  (func (;6;) (type 1) (param i32) (result i32)
    (local i32)
    global.get 1
    i32.const 416
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 4
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      loop  ;; label = @2
        global.get 3
        i32.const 15
        i32.sub
        global.set 3
        global.get 3
        i32.const 0
        i32.lt_s
        if  ;; label = @3
          call 0
          i32.const 100000
          global.set 3
        end
        local.get 1
        i32.const 1
        i32.add
        local.set 1
        local.get 1
        local.get 0
        i32.ge_s
        if  ;; label = @3
          local.get 1
          br 2 (;@1;)
        end
        br 0 (;@2;)
      end
      unreachable
    end
    global.get 1
    i32.const 416
    i32.add
    global.set 1)
  (func (;7;) (type 2) (param i32) (result i32 i64)
    global.get 1
    i32.const 392
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 16
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32 i64)  ;; label = @1
      i32.const 3
      block (param i32) (result i32)  ;; label = @2
        local.get 0
        if  ;; label = @3
          i32.const 5
          i64.const 6
          br 2 (;@1;)
        end
        drop
        i32.const 9
      end
      local.get 0
      i64.extend_i32_s
      br 0 (;@1;)
    end
    global.get 1
    i32.const 392
    i32.add
    global.set 1)
  (func (;8;) (type 0) (result i32 i64)
    global.get 1
    i32.const 280
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 4
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32 i64)  ;; label = @1
      i32.const 0
      call 7
    end
    global.get 1
    i32.const 280
    i32.add
    global.set 1)
  (func (;9;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 312
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 6
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      local.get 0
      call 7
      i32.wrap_i64
      i32.add
    end
    global.get 1
    i32.const 312
    i32.add
    global.set 1)
  (func (;10;) (type 3) (param i32)
    global.get 1
    i32.const 344
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 10
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block  ;; label = @1
      local.get 0
      if  ;; label = @2
        local.get 0
        global.set 0
        br 1 (;@1;)
      end
      i32.const -1
      global.set 0
    end
    global.get 1
    i32.const 344
    i32.add
    global.set 1)
  (func (;11;) (type 1) (param i32) (result i32)
    global.get 1
    i32.const 304
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 5
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      local.get 0
      call 10
      global.get 0
    end
    global.get 1
    i32.const 304
    i32.add
    global.set 1)
  (func (;12;) (type 1) (param i32) (result i32)
    (local v128)
    global.get 1
    i32.const 600
    i32.sub
    global.set 1
    global.get 1
    global.get 2
    i32.lt_s
    if  ;; label = @1
      global.get 1
      global.set 2
      global.get 1
      i32.const 0
      i32.lt_s
      if  ;; label = @2
        unreachable
      end
    end
    global.get 3
    i32.const 36
    i32.sub
    global.set 3
    global.get 3
    i32.const 0
    i32.lt_s
    if  ;; label = @1
      call 0
      i32.const 100000
      global.set 3
    end
    block (result i32)  ;; label = @1
      local.get 0
      i32x4.splat
      local.set 1
      i32.const 0
      i32.const 1
      i32.const 16
      memory.fill
      i32.const 16
      i32.const 0
      i32.const 16
      memory.copy
      local.get 0
      local.get 0
      i32.const 1
      i32.and
      call_indirect (type 1)
      local.get 1
      i32.const 16
      v128.load
      i32x4.add
      i32x4.extract_lane 2
      i32.add
      local.get 0
      i32.extend8_s
      f64.const 0x1.93e5939a08ceap+99 (;=1e+30;)
      i32.trunc_sat_f64_s
      ref.null func
      ref.is_null
      select (result i32)
      f32.const -0x1.8p+1 (;=-3;)
      i64.trunc_sat_f32_u
      i32.wrap_i64
      i32.add
      i32.add
    end
    global.get 1
    i32.const 600
    i32.add
    global.set 1)
  (table (;0;) 2 funcref)
  (memory (;0;) 1)
  (global (;0;) (mut i32) (i32.const 7))
  (global (;1;) (mut i32) (i32.const 1048576))
  (global (;2;) (mut i32) (i32.const 1048576))
  (global (;3;) (mut i32) (i32.const 100000))
  (export "memory" (memory 0))
  (export "nested" (func 1))
  (export "br_func" (func 2))
  (export "br_if_func" (func 3))
  (export "br_table" (func 4))
  (export "ret_if" (func 5))
  (export "ret_loop" (func 6))
  (export "multi" (func 9))
  (export "store" (func 11))
  (export "misc" (func 12))
  (export "sluice:stack_budget" (global 1))
  (export "sluice:stack_low" (global 2))
  (elem (;0;) (i32.const 0) func 1 6))
