package wasmhost

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// spinnerWAT computes without end, in a different shape per phase, without
// calling the host: connect returns at once; helo is a tight loop; mail a
// loop whose body is 20,000 instructions long; rcpt a call tree of 2^60
// calls that never loops; data nested loops whose inner loop calls a
// function.
var spinnerWAT = `(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_connect") (result i32) (i32.const 0))
  (func (export "sluice_on_helo") (result i32)
    (loop $l (br $l)) (i32.const 0))
  (func (export "sluice_on_mail") (result i32)
    (loop $l` + strings.Repeat(` (global.set $g (i32.add (global.get $g) (i32.const 1)))`, 5000) + ` (br $l))
    (i32.const 0))
  (func $tree (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (i32.add (call $tree (i32.sub (local.get 0) (i32.const 1)))
                     (call $tree (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "sluice_on_rcpt") (result i32)
    (drop (call $tree (i32.const 60))) (i32.const 0))
  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "sluice_on_data") (result i32) (local i32)
    (loop $outer
      (local.set 0 (i32.const 0))
      (loop $inner
        (br_if $inner (i32.lt_u (local.tee 0 (call $leaf (local.get 0))) (i32.const 1000))))
      (br $outer))
    (i32.const 0)))`

// TestComputeStoppedAtDeadline: a guest that computes without end, in any
// shape (a tight loop, a long loop body, an exponential call tree without
// loops, nested loops with calls), is stopped at its deadline by the
// countdown (interrupt.go). Each stop is a timeout: counted by the breaker,
// and the chain applies on_error.
func TestComputeStoppedAtDeadline(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 200 * time.Millisecond
	p := load(t, e, Spec{Name: "spinner", Wasm: watModule(t, spinnerWAT), Timeout: timeout,
		BreakerThreshold: 2, BreakerBackoff: time.Minute})
	for _, ph := range []filter.Phase{filter.Helo, filter.Mail, filter.Rcpt} {
		kind, d, err := callKind(t, p, context.Background(), ph)
		if kind != "timeout" || !strings.Contains(err.Error(), "did not return within 200ms; the plugin was stopped") {
			t.Errorf("%v: error %v (kind %q), want a timeout", ph, err, kind)
		}
		if d < timeout || d > timeout+slack {
			t.Errorf("%v: call took %v, want about %v", ph, d, timeout)
		}
		if kind, _, err := callKind(t, p, context.Background(), filter.Connect); err != nil {
			t.Fatalf("call after the %v timeout: %s %v", ph, kind, err)
		}
	}
	// Through the chain: on_error applies, and two timeouts in a row open
	// the breaker.
	var faults []ErrorKind
	chain := &filter.Chain{Entries: []filter.Entry{{Name: "spinner", Plugin: p, OnError: filter.OnErrorContinue}}}
	for i := range 3 {
		st := stateAt(t, filter.Data)
		st.From = fmt.Sprintf("sender%d@example.org", i) // distinct messages: retries of one count once
		out := chain.Run(context.Background(), st)
		faults = append(faults, callErrorKinds(out)...)
		if out.Verdict != filter.Continue {
			t.Errorf("on_error continue: verdict %v", out.Verdict)
		}
	}
	if want := []ErrorKind{KindTimeout, KindTimeout, KindBreaker}; !slices.Equal(faults, want) {
		t.Errorf("faults %v, want two timeouts that open the breaker", faults)
	}
}

// TestComputeStoppedAtCancellation: a computing guest whose caller gives
// up stops too, as a cancellation.
func TestComputeStoppedAtCancellation(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "spinner", Wasm: watModule(t, spinnerWAT), Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	kind, d, err := callKind(t, p, ctx, filter.Rcpt)
	if kind != "cancelled" {
		t.Errorf("error %v (kind %q), want a cancellation", err, kind)
	}
	if d > 100*time.Millisecond+slack {
		t.Errorf("call took %v after a cancellation at 100ms", d)
	}
}

// TestGCWhileGuestComputes: a goroutine in compiled guest code cannot be
// preempted, so without the countdown's yields a stop-the-world pause of
// the garbage collector would wait for the guest's call to end. Here
// several collections complete while a guest spins in a tight loop for
// seconds.
func TestGCWhileGuestComputes(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 3 * time.Second
	p := load(t, e, Spec{Name: "spinner", Wasm: watModule(t, spinnerWAT), Timeout: timeout})
	done := make(chan error, 1)
	go func() {
		_, err := p.Call(context.Background(), stateAt(t, filter.Helo))
		done <- err
	}()
	for len(p.idleInstances()) != 0 { // the call has taken the instance
		select {
		case err := <-done:
			t.Fatalf("the spinning call returned at once: %v", err)
		default:
			runtime.Gosched()
		}
	}
	start := time.Now()
	for range 5 {
		runtime.GC()
	}
	gc := time.Since(start)
	select {
	case err := <-done:
		t.Fatalf("the garbage collector waited for the guest's call to end (%v; %v)", gc, err)
	default:
	}
	t.Logf("5 collections while the guest spins: %v", gc)
	if err := <-done; err == nil || !strings.Contains(err.Error(), "did not return within 3s") {
		t.Errorf("spinning call: %v, want a timeout", err)
	}
}

// TestYieldImportRefused: a plugin cannot import the countdown's host
// function itself, nor anything else from its module.
func TestYieldImportRefused(t *testing.T) {
	e, _ := newEngine(t)
	for _, imp := range []string{`(import "sluice:yield" "yield" (func))`, `(import "sluice:yield" "x" (func (param i32)))`} {
		_, err := e.Load(context.Background(), Spec{Name: "x", Wasm: watModule(t, `(module `+imp+`
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1)))`)})
		if err == nil || !strings.Contains(err.Error(), `the module name "sluice:yield" is reserved`) {
			t.Errorf("%s: Load = %v", imp, err)
		}
	}
}

// TestHugeRandomGetStoppedAtDeadline: one random_get of almost 1 GiB
// (about 4 s of crypto/rand) ends at the call's deadline too: the host
// reads the randomness in pieces and looks at the deadline between them.
func TestHugeRandomGetStoppedAtDeadline(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 100 * time.Millisecond
	p := load(t, e, Spec{Name: "random", MemoryLimit: 1 << 30, Timeout: timeout, Wasm: watModule(t, `(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (memory (export "memory") 16384)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_mail") (result i32)
    (drop (call $random_get (i32.const 0) (i32.const 0x3fff0000)))
    (i32.const 0)))`)})
	kind, d, err := callKind(t, p, context.Background(), filter.Mail)
	if kind != "timeout" {
		t.Errorf("error %v (kind %q), want a timeout", err, kind)
	}
	if d > timeout+slack {
		t.Errorf("call took %v, want about %v", d, timeout)
	}
}
