package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// hostileCase is one misbehaviour of testdata/hostile.wat, picked by the
// first byte of the tag "mode".
type hostileCase struct {
	name  string
	mode  string
	phase filter.Phase
	// want is a substring of the plugin error; alternatives are separated
	// by "|".
	want string
	// chainOnly: the error is raised by filter.Chain, not by Call.
	chainOnly bool
}

var hostileCases = []hostileCase{
	{"trap", "b", filter.Data, "sluice_on_data: wasm error: unreachable", false},
	// Unbounded recursion exhausts the stack budget (stack.go) in well under
	// a millisecond.
	{"recursion", "d", filter.Data, "sluice_on_data: call depth/stack limit exceeded", false},
	{"bad pointer", "f", filter.Data, "header_add: header name (ptr 2147483392, len 5) is outside the plugin's memory", false},
	{"negative length", "r", filter.Data, "header_add: negative header name length -5", false},
	{"invalid verdict", "g", filter.Data, "sluice_on_data: returned 7, which is not a verdict", false},
	{"reject with 451", "h", filter.Data, "a reject needs a 5xx reply", true},
	{"tempfail with 550", "w", filter.Mail, "a tempfail needs a 4xx reply", true},
	{"header CRLF", "i", filter.Data, "header_add: header value contains CR or LF that is not folding", false},
	{"header NUL", "n", filter.Data, "header_add: header value contains NUL", false},
	{"header in rcpt phase", "i", filter.Rcpt, "header_add: not allowed in rcpt phase (only in the data phase)", false},
	{"reply injection", "k", filter.Data, "set_reply: reply text contains byte 0x0d", false},
	{"reply code 250", "u", filter.Data, "set_reply: reply code 250 is not between 400 and 599", false},
	{"reply code 699", "v", filter.Data, "set_reply: reply code 699 is not between 400 and 599", false},
	{"mail_set at connect", "l", filter.Connect, "mail_set: not allowed in connect phase (only in the mail and data phase)", false},
	{"valid change then trap", "o", filter.Data, "wasm error: unreachable", false},
	{"body with bare LF", "p", filter.Data, "the new body is invalid: body contains a bare LF", false},
	{"remove every recipient", "q", filter.Data, "removed every recipient", false},
}

// TestHostilePlugins covers docs/TESTPLAN.md rows 41-48: every misbehaviour is a
// plugin error, the state is rolled back (nothing emitted), the on_error
// policy decides the outcome, and the next call works.
func TestHostilePlugins(t *testing.T) {
	e, _ := newEngine(t)
	hostile := load(t, e, Spec{Name: "hostile", Wasm: module(t, "hostile"), Grants: hostileGrants, Timeout: 500 * time.Millisecond})
	good := load(t, e, Spec{Name: "good", Wasm: module(t, "good")})
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			// Directly: the error names the cause.
			st := hostileState(t, tc)
			before := snapshotOf(st)
			if !tc.chainOnly {
				_, err := hostile.Call(context.Background(), st)
				if err == nil || !containsAny(err.Error(), tc.want) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.want)
				}
				if !strings.HasPrefix(err.Error(), "plugin hostile: ") {
					t.Errorf("error %q does not name the plugin", err)
				}
				st.Rollback()
				if got := snapshotOf(st); got != before {
					t.Errorf("state after rollback:\n%s\nwant:\n%s", got, before)
				}
			}

			// Through the chain, under every on_error policy.
			for _, pol := range onErrorOutcomes {
				st := hostileState(t, tc)
				chain := &filter.Chain{Entries: []filter.Entry{{Name: "hostile", Plugin: hostile, OnError: pol.onError}}}
				out := chain.Run(context.Background(), st)
				errs := stepErrors(out)
				faults := len(errs)
				for _, err := range errs {
					if !containsAny(err.Error(), tc.want) {
						t.Errorf("chain fault %q, want it to contain %q", err, tc.want)
					}
				}
				if out.Verdict != pol.verdict || out.Reply != pol.reply || faults != 1 {
					t.Errorf("on_error %d: outcome %v %v (faults %d), want %v %v", pol.onError, out.Verdict, out.Reply, faults, pol.verdict, pol.reply)
				}
				if got := snapshotOf(st); got != before {
					t.Errorf("on_error %d: state changed:\n%s\nwant:\n%s", pol.onError, got, before)
				}
			}

			// The same plugin works again, and so does another one.
			st = hostileState(t, hostileCase{mode: "a", phase: tc.phase})
			if v, err := hostile.Call(context.Background(), st); err != nil || v != filter.Continue {
				t.Errorf("next call on the hostile plugin: %v, %v", v, err)
			}
			if v, err := good.Call(context.Background(), stateAt(t, filter.Data)); err != nil || v != filter.Continue {
				t.Errorf("call on the good plugin: %v, %v", v, err)
			}
		})
	}
}

func containsAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// onErrorOutcomes is the chain's outcome of a plugin error under each
// on_error policy.
var onErrorOutcomes = []struct {
	onError filter.OnError
	verdict filter.Verdict
	reply   *smtp.Reply
}{
	{filter.OnErrorTempfail, filter.Tempfail, smtp.ReplyInternal},
	{filter.OnErrorContinue, filter.Continue, nil},
	{filter.OnErrorReject, filter.Reject, smtp.ReplyPolicyReject},
}

// stepErrors is every plugin error of a chain run, in order.
func stepErrors(out filter.Outcome) []error {
	var errs []error
	for _, s := range out.Steps {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	return errs
}

// callErrorKinds is the Kind of every *CallError of a chain run, in order.
func callErrorKinds(out filter.Outcome) []ErrorKind {
	var kinds []ErrorKind
	for _, err := range stepErrors(out) {
		var ce *CallError
		if errors.As(err, &ce) {
			kinds = append(kinds, ce.Kind)
		}
	}
	return kinds
}

func hostileState(t *testing.T, tc hostileCase) *filter.State {
	st := stateAt(t, tc.phase)
	if tc.phase <= filter.Helo {
		st.Session.Tags = filter.Tags{"mode": tc.mode}
	} else {
		st.Tags["mode"] = tc.mode
	}
	if tc.phase == filter.Rcpt {
		st.Rcpt = "carol@example.com"
	}
	return st
}

// snapshotOf renders what a plugin call may change.
func snapshotOf(st *filter.State) string {
	var b strings.Builder
	b.WriteString("from=" + st.From + " rcpts=" + strings.Join(st.Rcpts, ","))
	for _, tags := range []filter.Tags{st.Tags, st.Session.Tags} {
		b.WriteString(" tags[")
		for _, k := range []string{"mode", "rand"} {
			if v, ok := tags[k]; ok {
				b.WriteString(k + "=" + v + " ")
			}
		}
		b.WriteString("]")
	}
	if st.EnvelopeChanged {
		b.WriteString(" envelope-changed")
	}
	if st.Msg != nil {
		b.WriteString("\n")
		b.Write(st.Msg.Bytes())
	}
	return b.String()
}

// TestInfiniteLoopKilledAtDeadline covers docs/TESTPLAN.md row 41: the guest is
// stopped at the deadline, the instance is replaced, the next call works.
func TestInfiniteLoopKilledAtDeadline(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 100 * time.Millisecond
	p := load(t, e, Spec{Name: "loop", Wasm: module(t, "hostile"), Grants: hostileGrants, Timeout: timeout})
	first := p.idleInstances()[0]

	st := hostileState(t, hostileCase{mode: "c", phase: filter.Data})
	start := time.Now()
	v, err := p.Call(context.Background(), st)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "did not return within 100ms; the plugin was stopped") {
		t.Fatalf("error = %v", err)
	}
	if v != filter.Tempfail {
		t.Errorf("verdict on error = %v, want tempfail", v)
	}
	if elapsed < timeout || elapsed > timeout+2*time.Second {
		t.Errorf("call returned after %v, want about %v", elapsed, timeout)
	}
	if n := len(p.idleInstances()); n != 0 {
		t.Errorf("%d idle instances after the timeout, want the looping one discarded", n)
	}
	var ce *CallError
	if !errors.As(err, &ce) || ce.Phase != filter.Data || ce.Func != "sluice_on_data" {
		t.Errorf("error %#v is not a CallError for sluice_on_data", err)
	}

	st = hostileState(t, hostileCase{mode: "a", phase: filter.Data})
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("call after the timeout: %v, %v", v, err)
	}
	idle := p.idleInstances()
	if len(idle) != 1 || idle[0] == first {
		t.Errorf("the instance was not replaced")
	}
}

// TestCallerCancellation: a cancelled session context stops the guest too.
func TestCallerCancellation(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "loop", Wasm: module(t, "hostile"), Grants: hostileGrants, Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := p.Call(ctx, hostileState(t, hostileCase{mode: "c", phase: filter.Data}))
	if err == nil || !strings.Contains(err.Error(), "call cancelled") {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled call returned after %v", d)
	}
}

// TestMemoryGrowBounded covers docs/TESTPLAN.md row 43: memory.grow fails at the
// plugin's limit and the instance never holds more.
func TestMemoryGrowBounded(t *testing.T) {
	e, _ := newEngine(t)
	const limit = 1 << 20 // 16 pages
	p := load(t, e, Spec{Name: "grow", Wasm: module(t, "hostile"), Grants: hostileGrants, MemoryLimit: limit})
	st := hostileState(t, hostileCase{mode: "e", phase: filter.Data})
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("Call = %v, %v", v, err)
	}
	idle := p.idleInstances()
	if len(idle) != 1 {
		t.Fatalf("%d idle instances", len(idle))
	}
	if size := idle[0].mod.Memory().Size(); size != limit {
		t.Errorf("memory after growing to the limit: %d bytes, want %d", size, limit)
	}
}

// TestRandomGetDiffers covers docs/TESTPLAN.md row 51: WASI randomness is
// cryptographic, so two fresh instances do not produce the same bytes.
func TestRandomGetDiffers(t *testing.T) {
	e, _ := newEngine(t)
	var got []string
	for i := 0; i < 2; i++ {
		p := load(t, e, Spec{Name: "rand", Wasm: module(t, "hostile"), Grants: hostileGrants})
		st := hostileState(t, hostileCase{mode: "m", phase: filter.Data})
		if _, err := p.Call(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		r, ok := st.Tag("rand")
		if !ok || len(r) != 16 {
			t.Fatalf("tag rand = %q, %v", r, ok)
		}
		got = append(got, r)
	}
	if got[0] == got[1] {
		t.Errorf("two instances drew the same random bytes %s", got[0])
	}
}

// TestHostFunctionPanicContained covers docs/TESTPLAN.md row 48: a bug that makes a
// host function panic is a plugin error, not a crash.
func TestHostFunctionPanicContained(t *testing.T) {
	e, logs := newEngine(t)
	e.host = append(e.host, hostFunc{name: "boom", results: 1, fn: func(cs *callState, s []uint64) {
		var m map[string]int
		m["x"]++ // nil map write: a runtime panic
	}})
	p := load(t, e, Spec{Name: "boom", Wasm: watModule(t, `(module
		(import "sluice" "boom" (func $boom (result i32)))
		(memory (export "memory") 1)
		(func (export "sluice_abi_version") (result i32) (i32.const 1))
		(func (export "sluice_on_mail") (result i32) (call $boom)))`)})
	for i := 0; i < 2; i++ {
		_, err := p.Call(context.Background(), stateAt(t, filter.Mail))
		if err == nil || !strings.Contains(err.Error(), "plugin boom: boom: internal error in host function: assignment to entry in nil map") {
			t.Fatalf("error = %v", err)
		}
	}
	if !strings.Contains(logs.String(), "host function panicked") {
		t.Errorf("the panic was not logged")
	}
}
