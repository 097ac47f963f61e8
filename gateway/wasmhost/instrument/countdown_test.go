package instrument

import (
	"context"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// countdownWAT has the shapes a guest can spend time in: a loop, nested
// loops, and a call tree that is exponential without any loop.
const countdownWAT = `(module
  (func (export "loop") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 3)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))
  (func (export "nested") (param i32) (result i32) (local i32 i32)
    (loop $outer
      (local.set 2 (i32.const 100))
      (loop $inner
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if $inner (local.tee 2 (i32.sub (local.get 2) (i32.const 1)))))
      (br_if $outer (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))
  (func $tree (export "tree") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (i32.add (call $tree (i32.sub (local.get 0) (i32.const 1)))
                     (call $tree (i32.sub (local.get 0) (i32.const 1))))))))`

// TestCountdownYields: every shape of guest work reaches the yield function
// in proportion to the work, and the results do not change. Each site
// charges at least one step, so n loop iterations or calls make at least
// n/Fuel yields; a site charges at most its function's size, so a few
// dozen steps each here.
func TestCountdownYields(t *testing.T) {
	orig := wat(t, countdownWAT)
	res, err := Rewrite(orig, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	a := instantiate(t, orig)
	b, yields := instantiateCounting(t, res.Wasm)
	ctx := context.Background()
	for _, c := range []struct {
		fn    string
		arg   uint64
		sites int // loop headers or function entries it passes
	}{
		{"loop", 1_000_000, 1_000_000},
		{"nested", 10_000, 10_000 * 101},
		{"tree", 20, 1<<21 - 1},
	} {
		*yields = 0
		want, werr := a.ExportedFunction(c.fn).Call(ctx, c.arg)
		got, gerr := b.ExportedFunction(c.fn).Call(ctx, c.arg)
		if werr != nil || gerr != nil || want[0] != got[0] {
			t.Errorf("%s(%d): original %v %v, rewritten %v %v", c.fn, c.arg, want, werr, got, gerr)
		}
		if lo, hi := c.sites/Fuel, c.sites*40/Fuel+1; *yields < lo || *yields > hi {
			t.Errorf("%s(%d): %d yields, want between %d and %d", c.fn, c.arg, *yields, lo, hi)
		}
		t.Logf("%s(%d): %d yields", c.fn, c.arg, *yields)
	}
}

// TestShiftedIndices: the yield import moves every function index up by
// one; calls, ref.func in code, globals and elements, call_indirect through
// the table, the start function, exports and the names all follow.
func TestShiftedIndices(t *testing.T) {
	src := `(module (table 2 funcref) (global $gf funcref (ref.func $two))
  (global $started (export "started") (mut i32) (i32.const 0))
  (type $t (func (result i32)))
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.add (call $one) (i32.const 1)))
  (func $init (global.set $started (i32.const 7)))
  (elem (i32.const 0) $one)
  (elem (i32.const 1) funcref (ref.func $two))
  (elem declare func $init)
  (start $init)
  (func (export "f") (result i32)
    (i32.add (call_indirect (type $t) (i32.const 0))
      (i32.add (call_indirect (type $t) (i32.const 1))
        (i32.add (ref.is_null (ref.func $init)) (ref.is_null (global.get $gf)))))))`
	orig := watNames(t, src)
	res, err := Rewrite(orig, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	a, b := instantiate(t, orig), instantiate(t, res.Wasm)
	for _, m := range []api.Module{a, b} {
		got, err := m.ExportedFunction("f").Call(context.Background())
		if err != nil || got[0] != 3 || m.ExportedGlobal("started").Get() != 7 {
			t.Errorf("f() = %v, %v, started %d; want 3, 7", got, err, m.ExportedGlobal("started").Get())
		}
	}
	names := wasm2watNames(t, res.Wasm)
	for _, want := range []string{`(import "sluice:yield" "yield" (func (;0;)`, "(func $two (type", "call $one", "(start $init)", "(ref.func $two)"} {
		if !strings.Contains(names, want) {
			t.Errorf("no %q in the rewritten module:\n%s", want, names)
		}
	}
}
