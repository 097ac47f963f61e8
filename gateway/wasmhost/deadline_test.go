package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
)

// slack is how much later than its bound a stopped call may return on a
// loaded 2-core machine.
const slack = 2 * time.Second

// sleepFuncs are the WAT of a guest sleep: $sleep(ns) is poll_oneoff with
// one relative clock subscription, which is what Go's time.Sleep, C's
// nanosleep and usleep, and Rust's thread::sleep become on WASI preview 1.
const sleepImports = `
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (memory (export "memory") 1)`

const sleepFuncs = `
  ;; subscription at 0: userdata 0, tag 0 (clock), clock id 0 (realtime),
  ;; timeout at 24, flags 0 (relative); the event goes to 64, the count to 128.
  (func $sleep (param $ns i64)
    (i64.store (i32.const 24) (local.get $ns))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))
  (func (export "sluice_abi_version") (result i32) (i32.const 1))`

// sleeperWAT misbehaves per phase: connect sleeps 1ms and returns (a sleep
// within the deadline still works); helo calls sched_yield forever; mail
// sleeps 60s once and returns (time.Sleep(time.Minute)); rcpt sleeps 10ms
// at a time forever (a polling loop); data sleeps 60s in a loop.
const sleeperWAT = `(module` + sleepImports + sleepFuncs + `
  (func (export "sluice_on_connect") (result i32)
    (call $sleep (i64.const 1000000)) (i32.const 0))
  (func (export "sluice_on_helo") (result i32)
    (loop $l (drop (call $yield)) (br $l)) (i32.const 0))
  (func (export "sluice_on_mail") (result i32)
    (call $sleep (i64.const 60000000000)) (i32.const 0))
  (func (export "sluice_on_rcpt") (result i32)
    (loop $l (call $sleep (i64.const 10000000)) (br $l)) (i32.const 0))
  (func (export "sluice_on_data") (result i32)
    (loop $l (call $sleep (i64.const 60000000000)) (br $l)) (i32.const 0)))`

// callKind calls p in phase ph and returns the error's kind and how long
// the call took.
func callKind(t *testing.T, p *Plugin, ctx context.Context, ph filter.Phase) (ErrorKind, time.Duration, error) {
	t.Helper()
	start := time.Now()
	v, err := p.Call(ctx, stateAt(t, ph))
	d := time.Since(start)
	if err == nil {
		return "", d, nil
	}
	if v != filter.Tempfail {
		t.Errorf("%v: verdict %v with error %v, want tempfail", ph, v, err)
	}
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("%v: error %v is not a CallError", ph, err)
	}
	return ce.Kind, d, err
}

// A guest that sleeps (poll_oneoff on a clock) is stopped at its call's
// deadline, and the call fails as a timeout; a short sleep still works.
func TestGuestSleepEndsAtDeadline(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 300 * time.Millisecond
	p := load(t, e, Spec{Name: "sleeper", Wasm: watModule(t, sleeperWAT), Timeout: timeout, BreakerThreshold: -1})
	if kind, _, err := callKind(t, p, context.Background(), filter.Connect); err != nil {
		t.Fatalf("a 1ms sleep: %s %v", kind, err)
	}
	for _, ph := range []filter.Phase{filter.Helo, filter.Mail, filter.Rcpt, filter.Data} {
		kind, d, err := callKind(t, p, context.Background(), ph)
		if kind != KindTimeout || !strings.Contains(err.Error(), "did not return within 300ms") {
			t.Errorf("%v: error %v (kind %q), want a timeout", ph, err, kind)
		}
		if d < timeout || d > timeout+slack {
			t.Errorf("%v: call took %v, want about %v", ph, d, timeout)
		}
	}
	if kind, _, err := callKind(t, p, context.Background(), filter.Connect); err != nil {
		t.Errorf("call after the timeouts: %s %v", kind, err)
	}
}

// A sleeping guest whose caller gives up (the session ended) stops too,
// as a cancellation.
func TestGuestSleepEndsAtCancellation(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "sleeper", Wasm: watModule(t, sleeperWAT), Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	kind, d, err := callKind(t, p, ctx, filter.Mail)
	if kind != KindCancelled {
		t.Errorf("error %v (kind %q), want a cancellation", err, kind)
	}
	if d > 100*time.Millisecond+slack {
		t.Errorf("call took %v after a cancellation at 100ms", d)
	}
}

// Sleep timeouts are faults like any other: they open the breaker, and
// the chain applies on_error.
func TestGuestSleepCountsForBreakerAndOnError(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "sleeper", Wasm: watModule(t, sleeperWAT), Timeout: 100 * time.Millisecond,
		BreakerThreshold: 2, BreakerBackoff: time.Minute})
	var faults []ErrorKind
	chain := &filter.Chain{Entries: []filter.Entry{{Name: "sleeper", Plugin: p, OnError: filter.OnErrorContinue}}}
	for i := 0; i < 3; i++ {
		start := time.Now()
		st := stateAt(t, filter.Mail)
		st.From = fmt.Sprintf("sender%d@example.org", i) // distinct messages: retries of one count once
		out := chain.Run(context.Background(), st)
		faults = append(faults, callErrorKinds(out)...)
		if out.Verdict != filter.Continue {
			t.Errorf("call %d: verdict %v, want continue (on_error = continue)", i, out.Verdict)
		}
		if d := time.Since(start); d > 100*time.Millisecond+slack {
			t.Errorf("call %d took %v", i, d)
		}
	}
	if want := []ErrorKind{KindTimeout, KindTimeout, KindBreaker}; !slices.Equal(faults, want) {
		t.Errorf("faults %v, want %v", faults, want)
	}
	if !p.BreakerOpen() {
		t.Errorf("breaker closed after two sleep timeouts")
	}
}

// startWAT returns a module whose _initialize and sluice_configure run the
// given WAT instructions.
func startWAT(initialize, configure string) string {
	return `(module` + sleepImports + sleepFuncs + `
  (func (export "_initialize") ` + initialize + `)
  (func (export "sluice_configure") (result i32) ` + configure + ` (i32.const 0))
  (func (export "sluice_on_mail") (result i32) (i32.const 0)))`
}

// A module that sleeps or loops while starting cannot hold Load past its
// init_timeout, and the error says where it was stopped; cancelling the
// load (shutdown) stops it too.
func TestLoadBoundedByInitTimeout(t *testing.T) {
	e, _ := newEngine(t)
	const limit = 300 * time.Millisecond
	for _, tc := range []struct {
		name, initialize, configure, want string
	}{
		{"sleep in _initialize", `(call $sleep (i64.const 60000000000))`, ``, "_initialize: did not return within 300ms"},
		{"loop in _initialize", `(loop $l (br $l))`, ``, "_initialize: did not return within 300ms"},
		{"sleep in sluice_configure", ``, `(call $sleep (i64.const 60000000000))`, "sluice_configure: did not return within 300ms"},
		{"loop in sluice_configure", ``, `(loop $l (br $l))`, "sluice_configure: did not return within 300ms"},
		{"yield in sluice_configure", ``, `(loop $l (drop (call $yield)) (br $l))`, "sluice_configure: did not return within 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := e.Load(context.Background(), Spec{Name: "slow", Wasm: watModule(t, startWAT(tc.initialize, tc.configure)), InitTimeout: limit})
			d := time.Since(start)
			var le *LoadError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), "plugin slow: "+tc.want) {
				t.Errorf("Load error = %v, want a LoadError containing %q", err, tc.want)
			}
			if d < limit || d > limit+slack {
				t.Errorf("Load took %v, want about %v", d, limit)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := e.Load(ctx, Spec{Name: "slow", Wasm: watModule(t, startWAT(``, `(call $sleep (i64.const 60000000000))`))})
		if err == nil || !strings.Contains(err.Error(), "sluice_configure: cancelled") {
			t.Errorf("Load error = %v, want a cancellation", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond+slack {
			t.Errorf("cancelled Load took %v", d)
		}
	})
}

// An instance created for a hook call (the pool is empty) starts under
// that call's deadline: a slow _initialize makes the call a timeout at
// the plugin's timeout, not at the start-up limit.
func TestNewInstanceCountsAgainstCallTimeout(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 200 * time.Millisecond
	// _initialize is fast for the first instance (kv counter 1) and
	// sleeps 60s for every later one; mail traps, so the pool empties.
	src := `(module
  (import "sluice" "kv_incr" (func $incr (param i32 i32 i32 i32) (result i32)))` + sleepImports + `
  (data (i32.const 200) "n")` + sleepFuncs + `
  (func (export "_initialize")
    (if (i32.gt_s (call $incr (i32.const 200) (i32.const 1) (i32.const 1) (i32.const 0)) (i32.const 1))
      (then (call $sleep (i64.const 60000000000)))))
  (func (export "sluice_on_mail") (result i32) unreachable)
  (func (export "sluice_on_data") (result i32) (i32.const 0)))`
	p := load(t, e, Spec{Name: "slowstart", Wasm: watModule(t, src), Timeout: timeout, Grants: []string{"kv"},
		InitTimeout: time.Minute})
	if kind, _, _ := callKind(t, p, context.Background(), filter.Mail); kind != KindTrap {
		t.Fatalf("mail: kind %q, want a trap (which discards the only instance)", kind)
	}
	kind, d, err := callKind(t, p, context.Background(), filter.Data)
	if kind != KindTimeout || !strings.Contains(err.Error(), "_initialize: did not return within 200ms") {
		t.Errorf("data: error %v (kind %q), want a timeout in _initialize", err, kind)
	}
	if d < timeout || d > timeout+slack {
		t.Errorf("data call took %v, want about %v", d, timeout)
	}
}

// A resolver that never answers cannot hold dns_lookup past the call's
// deadline: the call ends there, as a timeout.
func TestDNSLookupEndsAtDeadline(t *testing.T) {
	e, err := NewEngine(context.Background(), EngineOptions{Resolver: blockingResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	const timeout = 200 * time.Millisecond
	p := load(t, e, Spec{Name: "bl", Wasm: watModule(t, dnsWAT), Grants: []string{"dns"}, Timeout: timeout})
	kind, d, err := callKind(t, p, context.Background(), filter.Connect)
	if kind != KindTimeout {
		t.Errorf("error %v (kind %q), want a timeout", err, kind)
	}
	if d < timeout || d > timeout+slack {
		t.Errorf("call took %v, want about %v", d, timeout)
	}
}

// dkimSignWAT signs the message with key "main", relaxed/relaxed, in data.
const dkimSignWAT = `(module
  (import "sluice" "dkim_sign" (func $sign (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "main")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func (export "sluice_on_data") (result i32)
    (drop (call $sign (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 256)))
    (i32.const 0)))`

// bigMessage is a message with a body of about n bytes of lines that
// relaxed canonicalization must rewrite (the slow path).
func bigMessage(t *testing.T, n int) *message.Message {
	t.Helper()
	line := "word\t  word  \tword word  word\t \r\n"
	body := strings.Repeat(line, n/len(line))
	m, err := message.Parse([]byte("From: alice@example.org\r\nSubject: big\r\n\r\n"+body), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dkim_sign hashes a large body in the host; it stops at the call's
// deadline, and the call ends as a timeout.
func TestDKIMSignLargeBodyEndsAtDeadline(t *testing.T) {
	e, _ := newEngine(t)
	key, _ := testDKIMKey(t, "main")
	const timeout = 50 * time.Millisecond
	p := load(t, e, Spec{Name: "signer", Wasm: watModule(t, dkimSignWAT), Grants: []string{"dkim:main"},
		DKIMKeys: []*dkimsign.Key{key}, Timeout: timeout})
	m := bigMessage(t, 64<<20)

	// How long the whole body takes here, to show the deadline cut it.
	start := time.Now()
	if _, err := dkimsign.Sign(m, key, dkimsign.Options{}); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)

	st := stateAt(t, filter.Data)
	st.Msg = m
	start = time.Now()
	_, err := p.Call(context.Background(), st)
	d := time.Since(start)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != KindTimeout {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d > timeout+slack {
		t.Errorf("call took %v (signing the whole body takes %v)", d, full)
	}
	t.Logf("signing 64 MiB takes %v; the call with a %v timeout took %v", full, timeout, d)
	if len(st.Msg.Fields) != 2 {
		t.Errorf("the message has %d header fields after the timeout, want the 2 it had", len(st.Msg.Fields))
	}
}
