package instrument

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testBudget = 1 << 20

// instantiate runs a module in wazero's compiler, as the host does, with
// a yield function that only counts its calls.
func instantiate(t testing.TB, b []byte) api.Module {
	m, _ := instantiateCounting(t, b)
	return m
}

func instantiateCounting(t testing.TB, b []byte) (api.Module, *int) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	yields := new(int)
	if _, err := rt.NewHostModuleBuilder(YieldModule).NewFunctionBuilder().
		WithFunc(func() { *yields++ }).Export(YieldName).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := rt.Instantiate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	return m, yields
}

// TestShapesGolden compares the rewritten shapes module with its golden
// text (go test -run TestShapesGolden -update rewrites it).
func TestShapesGolden(t *testing.T) {
	src, err := os.ReadFile("testdata/shapes.wat")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Rewrite(wat(t, string(src)), testBudget)
	if err != nil {
		t.Fatal(err)
	}
	got := wasm2wat(t, res.Wasm)
	const golden = "testdata/shapes.instrumented.wat"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("rewritten module differs from %s (run with -update and review the diff):\n%s", golden, got)
	}
}

// TestShapesBehave runs every function of the shapes module, original and
// rewritten, on several inputs: the results are identical and every exit
// path gives the whole budget back.
func TestShapesBehave(t *testing.T) {
	src, err := os.ReadFile("testdata/shapes.wat")
	if err != nil {
		t.Fatal(err)
	}
	orig := wat(t, string(src))
	res, err := Rewrite(orig, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	a, b := instantiate(t, orig), instantiate(t, res.Wasm)
	budget, low := b.ExportedGlobal(BudgetExport), b.ExportedGlobal(LowExport)
	ctx := context.Background()
	for _, name := range []string{"nested", "br_func", "br_if_func", "br_table", "ret_if", "ret_loop", "multi", "store", "misc"} {
		for _, arg := range []uint64{0, 1, 2, 3, 6, 9, api.EncodeI32(-1)} {
			if name == "ret_loop" && arg > 100 {
				continue
			}
			want, werr := a.ExportedFunction(name).Call(ctx, arg)
			got, gerr := b.ExportedFunction(name).Call(ctx, arg)
			if (werr == nil) != (gerr == nil) || len(want) != len(got) || (len(want) > 0 && want[0] != got[0]) {
				t.Errorf("%s(%d): original %v %v, rewritten %v %v", name, int32(arg), want, werr, got, gerr)
			}
			if v := budget.Get(); v != testBudget {
				t.Errorf("%s(%d): budget after the call %d, want %d", name, int32(arg), v, testBudget)
			}
		}
	}
	if d := testBudget - int64(int32(low.Get())); d <= 0 || d > 4*int64(res.MaxFrame) {
		t.Errorf("deepest use %d, want between 1 and a few frames (%d)", d, res.MaxFrame)
	}
}

// recursionWAT is a module whose only function counts its depth in a
// global and recurses without end; locals are extra i64 locals.
func recursionWAT(locals int) string {
	return `(module
  (global $depth (export "depth") (mut i32) (i32.const 0))
  (func $r (export "r") (param i32) (result i32)` + strings.Repeat(" (local i64)", locals) + `
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (call $r (local.get 0))))`
}

// recursionDepth runs recursionWAT(locals) rewritten with budget and
// returns the depth it reached and its frame cost.
func recursionDepth(t *testing.T, locals int, budget uint32) (int64, int64) {
	res, err := Rewrite(wat(t, recursionWAT(locals)), budget)
	if err != nil {
		t.Fatal(err)
	}
	m := instantiate(t, res.Wasm)
	_, err = m.ExportedFunction("r").Call(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("unbounded recursion with %d locals: %v, want the budget's unreachable trap", locals, err)
	}
	if b := int32(m.ExportedGlobal(BudgetExport).Get()); b >= 0 {
		t.Errorf("budget %d after the trap, want it below zero", b)
	}
	return int64(int32(m.ExportedGlobal("depth").Get())), int64(res.MaxFrame)
}

// TestRecursionStopsAtBudget: unbounded recursion traps exactly when its
// frames' cost would exceed the budget, and a function with 5,000 locals
// is stopped at a proportionally smaller depth than a tiny one.
func TestRecursionStopsAtBudget(t *testing.T) {
	const budget = 1 << 20
	tiny, tinyCost := recursionDepth(t, 0, budget)
	fat, fatCost := recursionDepth(t, 5000, budget)
	for _, c := range []struct {
		name        string
		depth, cost int64
	}{{"tiny", tiny, tinyCost}, {"fat", fat, fatCost}} {
		if c.depth != budget/c.cost {
			t.Errorf("%s frames (cost %d): depth %d, want %d", c.name, c.cost, c.depth, budget/c.cost)
		}
	}
	if fatCost < 5000*LocalSize || fat*50 > tiny {
		t.Errorf("fat frames cost %d and reach depth %d, tiny ones reach %d", fatCost, fat, tiny)
	}
}

// TestRefused: what the rewriter does not support is refused with a reason,
// never copied blindly.
func TestRefused(t *testing.T) {
	valid := wat(t, `(module (func (export "f")))`)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"not wasm", []byte("hello world"), "not a WebAssembly 1.0 binary module"},
		{"truncated", valid[:len(valid)-3], "unexpected end of data"},
		// (func) whose body is "return_call 0": a tail call.
		{"tail call", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x07\x01\x05\x00\x12\x00\x0b\x0b"), "tail calls"},
		{"unknown opcode", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\xff\x0b"), "unknown opcode 0xff"},
		{"no end", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x05\x01\x03\x00\x01\x01"), "function body has no end"},
		{"reserved export", wat(t, `(module (global (export "sluice:stack_budget") i32 (i32.const 0)))`), "a name Sluice reserves"},
		{"reserved import", wat(t, `(module (import "sluice:yield" "yield" (func)) (func (export "f") (call 0)))`), `the module name "sluice:yield" is reserved`},
		{"reserved import module", wat(t, `(module (import "sluice:yield" "other" (global i32)))`), `the module name "sluice:yield" is reserved`},
	}
	for _, c := range cases {
		_, err := Rewrite(c.b, testBudget)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Rewrite(valid, 1<<31); err == nil {
		t.Errorf("a budget above 2^31-1 was accepted")
	}
}

// FuzzRewrite: the rewriter faces plugin bytes. It never panics, and a
// module wazero accepts is rewritten into a module wazero accepts.
// Whatever it accepts, wazero can decode without allocating what the
// module merely declares.
func FuzzRewrite(f *testing.F) {
	src, err := os.ReadFile("testdata/shapes.wat")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wat(f, string(src)))
	f.Add(wat(f, recursionWAT(3)))
	f.Add(wat(f, `(module (type (func (result i32 i32 i64))) (func (result i32 i32 i64) (i32.const 1) (i32.const 2) (i64.const 3)))`))
	f.Add(wat(f, `(module (import "a" "b" (global i32)) (import "a" "f" (func)) (start 1) (func (call 0)))`))
	// Every place a function index can be: ref.func in code, a global and
	// element expressions, function elements, declarative segments, start.
	f.Add(wat(f, `(module (import "a" "f" (func $imp)) (table 2 funcref)
  (global funcref (ref.func $g))
  (func $g (result i32) (ref.is_null (ref.func $h)))
  (func $h (drop (call $g)))
  (elem (i32.const 0) $g)
  (elem (i32.const 1) funcref (ref.func $h))
  (elem declare func $h)
  (start $h) (export "g" (func $g)))`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Rewrite(b, testBudget)
		if err != nil {
			// Refused. Asking wazero whether it would have accepted b is
			// not safe: on malformed vectors it allocates every entry they
			// declare (see ErrCount). The repository's modules and the
			// seeds show that valid modules are accepted.
			return
		}
		if validate(b) == nil {
			if err := validate(res.Wasm); err != nil {
				t.Fatalf("wazero refuses the rewritten module of a module it accepts: %v", err)
			}
		}
	})
}

// validate checks a module with wazero's default features; the
// interpreter skips machine code generation, which the fuzzer does not need.
func validate(b []byte) error {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	_, err := rt.CompileModule(ctx, b)
	return err
}
