package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakeclock"
	"github.com/sluice-mail/sluice/gateway/internal/syncbuf"
	"github.com/sluice-mail/sluice/gateway/message"
)

// breakerEvents records OnBreaker calls.
type breakerEvents struct {
	mu  sync.Mutex
	got []string
}

func (b *breakerEvents) hook(plugin string, open bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, fmt.Sprintf("%s=%v", plugin, open))
}

func (b *breakerEvents) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.got, " ")
}

// breakerPlugin loads testdata/hostile.wat with s's breaker settings and a
// fake clock.
func breakerPlugin(t *testing.T, s Spec) (*Plugin, *fakeclock.Clock, *breakerEvents, *syncbuf.Buffer) {
	t.Helper()
	e, logs := newEngine(t)
	ev := &breakerEvents{}
	s.Name, s.Wasm, s.Grants, s.OnBreaker = "flaky", module(t, "hostile"), hostileGrants, ev.hook
	p := load(t, e, s)
	clk := fakeclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if p.brk != nil {
		p.brk.now = clk.Now
	}
	return p, clk, ev, logs
}

// msgSeq numbers the messages of callMode, so each call is a distinct
// message for the breaker.
var msgSeq atomic.Int64

// callMode calls the data hook of hostile.wat in mode ("a" behaves, "b"
// traps, "c" loops until the deadline) with a message never sent before,
// and returns the error's kind, or "ok".
func callMode(t *testing.T, p *Plugin, mode string) (kind ErrorKind, ce *CallError) {
	t.Helper()
	return callMsg(t, p, mode, fmt.Sprintf("m%d", msgSeq.Add(1)))
}

// callMsg is callMode for the message with Message-ID <id@example.org>,
// in a new session each time, as a client's retry would be.
func callMsg(t *testing.T, p *Plugin, mode, id string) (kind ErrorKind, ce *CallError) {
	t.Helper()
	st := hostileState(t, hostileCase{mode: mode, phase: filter.Data})
	st.Session.ID = "S" + id
	st.Msg = idMessage(t, id)
	v, err := p.Call(context.Background(), st)
	if err == nil {
		if v != filter.Continue {
			t.Fatalf("mode %s: verdict %v, want continue", mode, v)
		}
		return "ok", nil
	}
	if !errors.As(err, &ce) {
		t.Fatalf("mode %s: error %T %v is not a *CallError", mode, err, err)
	}
	if v != filter.Tempfail {
		t.Errorf("mode %s: verdict %v with an error, want tempfail", mode, v)
	}
	return ce.Kind, ce
}

// idMessage is testMessage with a Message-ID.
func idMessage(t testing.TB, id string) *message.Message {
	t.Helper()
	m, err := message.Parse([]byte("Message-ID: <"+id+"@example.org>\r\n"+testMessage), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBreakerOpens: a plugin that traps on every call (every message) opens
// its breaker after the threshold; later calls fail at once with
// kind "breaker", create no instance, log nothing more, and on_error decides
// the outcome as for any plugin error.
func TestBreakerOpens(t *testing.T) {
	p, _, ev, logs := breakerPlugin(t, Spec{})
	for i := range DefaultBreakerThreshold {
		if kind, _ := callMode(t, p, "b"); kind != KindTrap {
			t.Fatalf("call %d: kind %q, want trap", i, kind)
		}
		if open := p.BreakerOpen(); open != (i == DefaultBreakerThreshold-1) {
			t.Fatalf("after %d faults: BreakerOpen = %v", i+1, open)
		}
	}
	made := p.instantiations.Load()
	for _, mode := range []string{"b", "a", "b"} {
		for range 50 {
			kind, ce := callMode(t, p, mode)
			if kind != KindBreaker {
				t.Fatalf("mode %s while open: kind %q, want breaker", mode, kind)
			}
			want := "plugin flaky: sluice_on_data: circuit breaker open (10 distinct calls in a row faulted); retrying in 1s"
			if ce.Error() != want || ce.Phase != filter.Data || ce.Plugin != "flaky" {
				t.Fatalf("error %q (phase %v), want %q", ce, ce.Phase, want)
			}
		}
	}

	for _, pol := range onErrorOutcomes {
		st := hostileState(t, hostileCase{mode: "a", phase: filter.Data})
		chain := &filter.Chain{Entries: []filter.Entry{{Name: "flaky", Plugin: p, OnError: pol.onError}}}
		out := chain.Run(context.Background(), st)
		faults := callErrorKinds(out)
		if out.Verdict != pol.verdict || out.Reply != pol.reply {
			t.Errorf("on_error %d: outcome %v %v, want %v %v", pol.onError, out.Verdict, out.Reply, pol.verdict, pol.reply)
		}
		if len(faults) != 1 || faults[0] != KindBreaker || len(out.Steps) != 1 || out.Steps[0].Err == nil {
			t.Errorf("on_error %d: faults %v, steps %+v; want one breaker fault", pol.onError, faults, out.Steps)
		}
	}

	if n := p.instantiations.Load(); n != made {
		t.Errorf("%d instances created while the breaker was open", n-made)
	}
	if s := p.Stats(); s.Idle != 0 {
		t.Errorf("%d idle instances, want 0 (every trap discards its instance)", s.Idle)
	}
	if got := ev.String(); got != "flaky=false flaky=true" {
		t.Errorf("OnBreaker calls %q, want the load then one opening", got)
	}
	if n := strings.Count(logs.String(), "circuit breaker open"); n != 1 {
		t.Errorf("%d log lines about the opening, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"plugin circuit breaker open") ||
		!strings.Contains(logs.String(), "plugin=flaky") {
		t.Errorf("the opening is not a warning naming the plugin:\n%s", logs)
	}
}

// TestBreakerHalfOpenOneCall: after the backoff, exactly one of many
// concurrent calls runs the plugin; the others still fail at once.
func TestBreakerHalfOpenOneCall(t *testing.T) {
	p, clk, _, logs := breakerPlugin(t, Spec{BreakerThreshold: 2, Timeout: 300 * time.Millisecond})
	callMode(t, p, "b")
	callMode(t, p, "b")
	if !p.BreakerOpen() {
		t.Fatal("breaker not open after 2 faults")
	}
	clk.Advance(DefaultBreakerBackoff)
	made := p.instantiations.Load()

	const n = 8
	kinds := make(chan ErrorKind, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			st := hostileState(t, hostileCase{mode: "c", phase: filter.Data}) // loops until the deadline
			st.Msg = idMessage(t, fmt.Sprintf("m%d", msgSeq.Add(1)))
			_, err := p.Call(context.Background(), st)
			var ce *CallError
			if !errors.As(err, &ce) {
				kinds <- ErrorKind(fmt.Sprint("not a CallError: ", err))
				return
			}
			kinds <- ce.Kind
		})
	}
	close(start)
	wg.Wait()
	close(kinds)
	count := map[ErrorKind]int{}
	for k := range kinds {
		count[k]++
	}
	if count[KindTimeout] != 1 || count[KindBreaker] != n-1 {
		t.Errorf("kinds %v, want 1 timeout (the trial call) and %d breaker", count, n-1)
	}
	if got := p.instantiations.Load() - made; got != 1 {
		t.Errorf("%d instances created in the half-open state, want 1", got)
	}
	if !p.BreakerOpen() {
		t.Error("breaker closed after the trial call timed out")
	}
	if n := strings.Count(logs.String(), "half-open"); n != 1 {
		t.Errorf("%d half-open log lines, want 1", n)
	}
	if _, ce := callMode(t, p, "a"); ce == nil || !strings.HasSuffix(ce.Reason, "(the trial call faulted too); retrying in 2s") {
		t.Errorf("after the failed trial: %v, want a 2s backoff", ce)
	}
}

// TestBreakerCloses: a successful trial call closes the breaker, resets
// the fault count and the backoff.
func TestBreakerCloses(t *testing.T) {
	p, clk, ev, logs := breakerPlugin(t, Spec{BreakerThreshold: 2})
	callMode(t, p, "b")
	callMode(t, p, "b")
	clk.Advance(time.Second)
	callMode(t, p, "b") // failed trial: 2s
	clk.Advance(2 * time.Second)
	if kind, _ := callMode(t, p, "a"); kind != "ok" {
		t.Fatalf("trial call: %s, want ok", kind)
	}
	if p.BreakerOpen() {
		t.Fatal("breaker still open after a successful trial")
	}
	for range 10 {
		if kind, _ := callMode(t, p, "a"); kind != "ok" {
			t.Fatalf("call after closing: %s", kind)
		}
	}
	if kind, _ := callMode(t, p, "b"); kind != KindTrap {
		t.Fatalf("first fault after closing: %s, want trap (the count was reset)", kind)
	}
	if p.BreakerOpen() {
		t.Fatal("one fault reopened the breaker")
	}
	callMode(t, p, "b")
	if _, ce := callMode(t, p, "a"); ce == nil || !strings.HasSuffix(ce.Reason, "(2 distinct calls in a row faulted); retrying in 1s") {
		t.Errorf("reopened: %v, want the backoff reset to 1s", ce)
	}
	if got := ev.String(); got != "flaky=false flaky=true flaky=true flaky=false flaky=true" {
		t.Errorf("OnBreaker calls %q", got)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"plugin circuit breaker closed") {
		t.Errorf("no log line for the closing:\n%s", logs)
	}
}

// TestBreakerBackoffDoubles: each failed trial doubles the backoff, up to
// the maximum; nothing runs before the backoff has passed.
func TestBreakerBackoffDoubles(t *testing.T) {
	p, clk, _, _ := breakerPlugin(t, Spec{BreakerThreshold: 2, BreakerBackoff: time.Second, BreakerMaxBackoff: 5 * time.Second})
	callMode(t, p, "b")
	callMode(t, p, "b")
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if _, ce := callMode(t, p, "a"); ce == nil || !strings.HasSuffix(ce.Reason, fmt.Sprintf("; retrying in %v", want)) {
			t.Fatalf("opening %d: %v, want a backoff of %v", i, ce, want)
		}
		made := p.instantiations.Load()
		clk.Advance(want - time.Millisecond)
		if _, ce := callMode(t, p, "b"); ce == nil || !strings.HasSuffix(ce.Reason, "retrying in 1ms") {
			t.Fatalf("opening %d, 1ms before the end: %v", i, ce)
		}
		clk.Advance(time.Millisecond)
		if kind, _ := callMode(t, p, "b"); kind != KindTrap {
			t.Fatalf("opening %d: trial call %s, want trap", i, kind)
		}
		if got := p.instantiations.Load() - made; got != 1 {
			t.Fatalf("opening %d: %d instances created, want 1", i, got)
		}
	}
}

// TestBreakerIntermittent: a success between faults resets the count, so a
// plugin that only sometimes faults is never cut off.
func TestBreakerIntermittent(t *testing.T) {
	p, _, ev, _ := breakerPlugin(t, Spec{BreakerThreshold: 2})
	for i := range 40 {
		mode, want := "b", KindTrap
		if i%2 == 1 {
			mode, want = "a", "ok"
		}
		if kind, _ := callMode(t, p, mode); kind != want {
			t.Fatalf("call %d: %s, want %s", i, kind, want)
		}
	}
	if p.BreakerOpen() || ev.String() != "flaky=false" {
		t.Errorf("breaker opened (OnBreaker calls %q)", ev)
	}
}

// TestBreakerIgnoresCancellation: a cancelled call says nothing about the
// plugin.
func TestBreakerIgnoresCancellation(t *testing.T) {
	p, _, _, _ := breakerPlugin(t, Spec{BreakerThreshold: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		_, err := p.Call(ctx, hostileState(t, hostileCase{mode: "c", phase: filter.Data}))
		var ce *CallError
		if !errors.As(err, &ce) || ce.Kind != KindCancelled {
			t.Fatalf("cancelled call: %v, want kind cancelled", err)
		}
	}
	if p.BreakerOpen() {
		t.Error("cancelled calls opened the breaker")
	}
}

// TestBreakerDisabled: a negative threshold never opens.
func TestBreakerDisabled(t *testing.T) {
	p, _, ev, _ := breakerPlugin(t, Spec{BreakerThreshold: -1})
	for i := range 20 {
		if kind, _ := callMode(t, p, "b"); kind != KindTrap {
			t.Fatalf("call %d: %s, want trap", i, kind)
		}
	}
	if p.BreakerOpen() || ev.String() != "flaky=false" {
		t.Errorf("disabled breaker opened (OnBreaker calls %q)", ev)
	}
	if n := p.instantiations.Load(); n != 19 {
		t.Errorf("%d instances created for 20 trapping calls, want 19 (the first uses the load's)", n)
	}
}
