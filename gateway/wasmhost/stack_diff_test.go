package wasmhost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// twoEngines returns an engine that instruments modules (as in production)
// and one that loads them as they are.
func twoEngines(t *testing.T) (instrumented, original *Engine) {
	instrumented, _ = newEngine(t)
	original, _ = newEngine(t)
	original.uninstrumented = true
	return instrumented, original
}

// outcome renders what a call did: verdict, error and the state after it.
func outcome(v filter.Verdict, err error, st *filter.State) string {
	if err != nil {
		st.Rollback()
	}
	return fmt.Sprintf("verdict %v, error %v\n%s", v, err, stateImage(st))
}

// TestStackDifferential: the instrumentation (the stack budget and the
// countdown) changes no result. The hostile plugin's misbehaviours (except
// recursion, which the instrumented module stops earlier by design), the
// good plugin, a plugin that computes long enough to yield hundreds of
// times, the host-function fuzz seeds, and the example filter and the
// conformance probe of every SDK language give identical verdicts, errors
// and states through the instrumented and the original module. (The
// conformance vectors run on original modules with go test -tags
// sluice_uninstrumented ./gateway/conformance/.)
func TestStackDifferential(t *testing.T) {
	t.Parallel() // it compiles Go modules, which is slow under -race
	ei, eo := twoEngines(t)
	ctx := context.Background()
	both := func(s Spec) (*Plugin, *Plugin) { // compiled side by side
		var po *Plugin
		var erro error
		done := make(chan struct{})
		go func() {
			defer close(done)
			po, erro = eo.Load(ctx, s)
		}()
		pi := load(t, ei, s)
		<-done
		if erro != nil {
			t.Fatalf("Load original: %v", erro)
		}
		t.Cleanup(func() { po.Close(ctx) })
		return pi, po
	}
	compare := func(name string, pi, po *Plugin, mk func() *filter.State) {
		t.Helper()
		sti, sto := mk(), mk()
		vi, erri := pi.Call(ctx, sti)
		vo, erro := po.Call(ctx, sto)
		if a, b := outcome(vi, erri, sti), outcome(vo, erro, sto); a != b {
			t.Errorf("%s: instrumented:\n%s\noriginal:\n%s", name, a, b)
		}
	}

	hi, ho := both(Spec{Name: "hostile", Wasm: module(t, "hostile"), Timeout: 5 * time.Second, BreakerThreshold: -1, Grants: hostileGrants})
	for _, tc := range append(hostileCases, hostileCase{name: "continue", mode: "a", phase: filter.Data}) {
		if tc.mode == "d" {
			continue
		}
		compare("hostile "+tc.name, hi, ho, func() *filter.State { return hostileState(t, tc) })
	}
	gi, gopl := both(Spec{Name: "good", Wasm: module(t, "good")})
	for _, ph := range filter.Phases {
		compare("good "+ph.String(), gi, gopl, func() *filter.State { return stateAt(t, ph) })
	}

	ci, co := both(Spec{Name: "compute", Wasm: watModule(t, computeWAT), Timeout: 10 * time.Second})
	if v, err := ci.Call(ctx, stateAt(t, filter.Data)); err != nil || v != filter.Continue {
		t.Errorf("compute: %v, %v, want continue", v, err)
	}
	for _, ph := range filter.Phases {
		compare("compute "+ph.String(), ci, co, func() *filter.State { return stateAt(t, ph) })
	}

	fi, pani := fuzzHostPlugin(t)
	fo, pano := fuzzHostPluginWith(t, func(e *Engine) { e.uninstrumented = true })
	for i, s := range fuzzSeeds() {
		in := fuzzInput(s.ph, s.verdict, s.ops, fuzzPayload)
		sti, erri := fuzzHostCall(t, fi, pani, in)
		sto, erro := fuzzHostCall(t, fo, pano, in)
		if a, b := fmt.Sprint(erri, "\n", stateImage(sti)), fmt.Sprint(erro, "\n", stateImage(sto)); a != b {
			t.Errorf("fuzz seed %d: instrumented:\n%s\noriginal:\n%s", i, a, b)
		}
	}

	for _, lang := range []string{"go", "rust", "c", "assemblyscript", "wat"} {
		path := filepath.Join("..", "..", "bin", "examples", lang+".wasm")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: run make examples", err)
		}
		pi, po := both(Spec{Name: "example", Wasm: b, Config: []byte(`{"greeting":"hej"}`), Timeout: 10 * time.Second})
		for _, ph := range filter.Phases {
			compare(lang+" example "+ph.String(), pi, po, func() *filter.State { return stateAt(t, ph) })
			compare(lang+" example "+ph.String()+" again", pi, po, func() *filter.State { return stateAt(t, ph) })
		}
		b, err = os.ReadFile(filepath.Join("..", "..", "bin", "conformance", lang+".wasm"))
		if err != nil {
			t.Fatalf("%v: run make probes", err)
		}
		pi, po = both(Spec{Name: "probe", Wasm: b, Timeout: 10 * time.Second})
		for _, ph := range filter.Phases {
			compare(lang+" probe "+ph.String(), pi, po, func() *filter.State { return stateAt(t, ph) })
		}
	}
}

// computeWAT computes, without calling the host, through loops and an
// exponential call tree (about 10^8 instructions: hundreds of countdown
// yields), and tempfails unless it got the expected sum.
const computeWAT = `(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $tree (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (i32.add (call $tree (i32.sub (local.get 0) (i32.const 1)))
                     (call $tree (i32.sub (local.get 0) (i32.const 1)))))))
  (func $loops (param i32) (result i32) (local i32 i32)
    (loop $outer
      (local.set 2 (i32.const 1000))
      (loop $inner
        (local.set 1 (i32.add (local.get 1) (local.get 2)))
        (br_if $inner (local.tee 2 (i32.sub (local.get 2) (i32.const 1)))))
      (br_if $outer (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))
  (func (export "sluice_on_data") (result i32)
    (if (result i32) (i32.and
          (i32.eq (call $tree (i32.const 20)) (i32.const 1048576))
          (i32.eq (call $loops (i32.const 2000)) (i32.const 1001000000)))
      (then (i32.const 0)) (else (i32.const 2)))))`
