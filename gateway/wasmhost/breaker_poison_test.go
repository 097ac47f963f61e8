package wasmhost

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakeclock"
	"github.com/sluice-mail/sluice/gateway/message"
)

// soakResult is what mtaSoak saw.
type soakResult struct {
	calls, poisonCalls int
	opened             int               // distinct messages sent when the breaker first opened, -1 if never
	innocentRefused    int               // calls of innocent messages that failed
	maxDelay           int               // ticks from an innocent message's first try to its delivery
	poisonKinds        map[ErrorKind]int // error kinds of poison calls
}

// mtaSoak sends messages distinct messages through p's data hook, one new
// message per tick (50 ms of p's fake clock), and retries every refused
// message as an MTA would: in a new session, after 1, 5, 15, 40, 100 and
// 250 ticks, and all at once, back to back, when the queue is flushed
// every 500 ticks. The messages whose Message-ID the seeded random picks
// with probability rate trap on every try (a parser bug); the others
// behave. With stopAtOpen it stops when the breaker first opens.
func mtaSoak(t *testing.T, p *Plugin, clk *fakeclock.Clock, seed uint64, rate float64, messages int, stopAtOpen bool) soakResult {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, 1))
	poison := make([]bool, messages)
	for i := range poison {
		poison[i] = rnd.Float64() < rate
	}
	delays := []int{1, 5, 15, 40, 100, 250}
	type deferred struct{ msg, tries int }
	retries := map[int][]deferred{} // by tick
	firstTry := map[int]int{}
	r := soakResult{opened: -1, poisonKinds: map[ErrorKind]int{}}
	try := func(tick int, d deferred) {
		mode := "a"
		if poison[d.msg] {
			mode = "b"
		}
		kind, _ := callMsg(t, p, mode, fmt.Sprintf("soak%d", d.msg))
		r.calls++
		if poison[d.msg] {
			r.poisonCalls++
			r.poisonKinds[kind]++
		} else if kind != "ok" {
			r.innocentRefused++
		} else {
			r.maxDelay = max(r.maxDelay, tick-firstTry[d.msg])
		}
		if r.opened < 0 && p.BreakerOpen() {
			r.opened = len(firstTry)
		}
		if kind != "ok" && d.tries <= len(delays) {
			at := tick + delays[min(d.tries, len(delays))-1]
			retries[at] = append(retries[at], deferred{d.msg, d.tries + 1})
		}
	}
	for tick := 0; tick < messages || len(retries) > 0; tick++ {
		clk.Advance(50 * time.Millisecond)
		if tick < messages {
			firstTry[tick] = tick
			try(tick, deferred{tick, 1})
		}
		due := retries[tick]
		delete(retries, tick)
		if tick%500 == 499 { // postqueue -f: every deferred message now
			for at := range retries {
				due = append(due, retries[at]...)
				delete(retries, at)
			}
			slices.SortFunc(due, func(a, b deferred) int { return a.msg - b.msg })
		}
		for _, d := range due {
			try(tick, d)
		}
		if stopAtOpen && r.opened >= 0 {
			break
		}
	}
	return r
}

// TestBreakerPoisonSoak reproduces the fault-injection soak of issue 9 in
// a few seconds of fake time: a plugin traps on a fixed 5% of the messages,
// always the same ones, and each is retried by its sender, sometimes many
// back to back after a queue flush. Before the breaker counted distinct
// messages, retries made 5 faults in a row common and a third of the
// innocent mail got 451. Now the breaker never opens, every poison call
// reaches the plugin (and fails on its own), and innocent mail is never
// refused, so it is delayed by nothing.
func TestBreakerPoisonSoak(t *testing.T) {
	p, clk, ev, logs := breakerPlugin(t, Spec{})
	r := mtaSoak(t, p, clk, 5, 0.05, 3000, false)
	t.Logf("%d calls, %d of poison messages: %v", r.calls, r.poisonCalls, r.poisonKinds)
	if r.poisonCalls < 500 {
		t.Fatalf("only %d poison calls; the soak does not test retries", r.poisonCalls)
	}
	if r.opened >= 0 || ev.String() != "flaky=false" || strings.Contains(logs.String(), "circuit breaker") {
		t.Errorf("the breaker opened (after %d messages; OnBreaker %q)", r.opened, ev)
	}
	if r.innocentRefused != 0 || r.maxDelay != 0 {
		t.Errorf("%d calls of innocent messages refused, longest delay %d ticks; want none", r.innocentRefused, r.maxDelay)
	}
	if r.poisonKinds[KindTrap] != r.poisonCalls {
		t.Errorf("poison calls %v, want all %d to reach the plugin and trap", r.poisonKinds, r.poisonCalls)
	}
}

// TestBreakerBroadFaults: a plugin that fails on most distinct messages is
// stopped soon, retries or not: on every message within the threshold, on
// 60% of them by the fault rate within about a window.
func TestBreakerBroadFaults(t *testing.T) {
	for _, tc := range []struct {
		rate   float64
		within int // distinct messages
	}{
		{1, DefaultBreakerThreshold},
		{0.9, 2 * DefaultBreakerWindow},
		{0.6, 2 * DefaultBreakerWindow},
	} {
		t.Run(fmt.Sprint(tc.rate), func(t *testing.T) {
			for seed := range uint64(5) {
				p, clk, ev, _ := breakerPlugin(t, Spec{})
				r := mtaSoak(t, p, clk, seed, tc.rate, 4*DefaultBreakerWindow, true)
				if r.opened < 0 || r.opened > tc.within {
					t.Fatalf("seed %d: opened after %d distinct messages, want at most %d", seed, r.opened, tc.within)
				}
				if ev.String() != "flaky=false flaky=true" {
					t.Errorf("seed %d: OnBreaker %q", seed, ev)
				}
			}
		})
	}
}

// TestBreakerFaultRate: 3 messages of 5 fault, never 10 in a row, so the
// rate opens the breaker, at the first fault once the window is full.
func TestBreakerFaultRate(t *testing.T) {
	p, _, _, logs := breakerPlugin(t, Spec{BreakerWindow: 20, BreakerFaultRate: 0.6})
	for i := range 21 {
		mode := "a"
		if i%5 < 3 {
			mode = "b"
		}
		callMode(t, p, mode)
		if open := p.BreakerOpen(); open != (i == 20) {
			t.Fatalf("after %d calls: open = %v", i+1, open)
		}
	}
	if _, ce := callMode(t, p, "a"); ce == nil || !strings.Contains(ce.Reason, "(12 of the last 20 distinct calls faulted)") {
		t.Errorf("refusal %v", ce)
	}
	if !strings.Contains(logs.String(), `why="12 of the last 20 distinct calls faulted"`) {
		t.Errorf("the opening does not say why:\n%s", logs)
	}
}

// TestBreakerPoisonCountsOnce: the same message faulting on every retry is
// one fault, however many retries come in a row.
func TestBreakerPoisonCountsOnce(t *testing.T) {
	p, _, ev, _ := breakerPlugin(t, Spec{BreakerThreshold: 2})
	for i := range 30 {
		if kind, _ := callMsg(t, p, "b", "poison"); kind != KindTrap {
			t.Fatalf("retry %d: %s, want trap", i, kind)
		}
	}
	if p.BreakerOpen() {
		t.Fatal("retries of one message opened the breaker")
	}
	callMsg(t, p, "b", "other")
	if !p.BreakerOpen() || ev.String() != "flaky=false flaky=true" {
		t.Errorf("a second distinct faulting message did not open the breaker (OnBreaker %q)", ev)
	}
}

// TestBreakerTrialNotPoison: in the half-open state a message that faulted
// before is refused without running the plugin, so it cannot keep the
// plugin stopped; the next other message is the trial and closes it.
func TestBreakerTrialNotPoison(t *testing.T) {
	p, clk, ev, _ := breakerPlugin(t, Spec{BreakerThreshold: 2})
	callMsg(t, p, "b", "p1")
	callMsg(t, p, "b", "p2")
	if !p.BreakerOpen() {
		t.Fatal("not open")
	}
	clk.Advance(DefaultBreakerBackoff)
	made := p.instantiations.Load()
	for i := range 10 {
		kind, ce := callMsg(t, p, "b", fmt.Sprint("p", 1+i%2))
		if kind != KindBreaker || !strings.HasSuffix(ce.Reason, "this message faulted before and is not a trial call") {
			t.Fatalf("retry %d of a poison message in the half-open state: %s %v", i, kind, ce)
		}
	}
	if n := p.instantiations.Load() - made; n != 0 {
		t.Errorf("%d instances created for known poison messages", n)
	}
	if kind, _ := callMode(t, p, "a"); kind != "ok" {
		t.Fatalf("trial: %s", kind)
	}
	if p.BreakerOpen() || ev.String() != "flaky=false flaky=true flaky=false" {
		t.Errorf("the trial did not close the breaker (OnBreaker %q)", ev)
	}
	// Known poison after closing is one fault no more.
	for range 5 {
		callMsg(t, p, "b", "p1")
		callMsg(t, p, "b", "p2")
	}
	if p.BreakerOpen() {
		t.Error("repeats of known poison reopened the breaker")
	}
}

// TestCallKey: the key is what a retry repeats in a new session, from
// another address of the sender's pool, and tells different messages apart.
func TestCallKey(t *testing.T) {
	b := newBreaker(Spec{}, nil)
	data := func(from string, rcpts []string, raw string) *filter.State {
		st := stateAt(t, filter.Data)
		st.From, st.Rcpts = from, rcpts
		m, err := message.Parse([]byte(raw), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st.Msg = m
		return st
	}
	const withID = "Message-ID: <1@x>\r\nSubject: a\r\n\r\nbody\r\n"
	base := data("a@x", []string{"b@y"}, withID)
	retry := data("a@x", []string{"b@y"}, "Received: by other\r\nMessage-ID: <1@x>\r\nSubject: a\r\n\r\nbody\r\n")
	retry.Session.ID, retry.Session.ClientIP, retry.Session.Helo = "S2", netip.MustParseAddr("192.0.2.99"), "other.example"
	retry.Tags["mode"] = "b"
	if b.callKey(base) != b.callKey(retry) {
		t.Error("a retry of the same message has another key")
	}
	for name, st := range map[string]*filter.State{
		"other Message-ID": data("a@x", []string{"b@y"}, "Message-ID: <2@x>\r\nSubject: a\r\n\r\nbody\r\n"),
		"other sender":     data("c@x", []string{"b@y"}, withID),
		"other recipients": data("a@x", []string{"b@y", "c@y"}, withID),
		"no Message-ID":    data("a@x", []string{"b@y"}, "Subject: a\r\n\r\nbody\r\n"),
	} {
		if b.callKey(st) == b.callKey(base) {
			t.Errorf("%s: same key", name)
		}
	}
	noID1 := data("a@x", []string{"b@y"}, "Subject: a\r\n\r\nbody one\r\n")
	noID2 := data("a@x", []string{"b@y"}, "Subject: a\r\n\r\nbody two\r\n")
	noID1again := data("a@x", []string{"b@y"}, "Subject: a\r\nDate: now\r\n\r\nbody one\r\n")
	if b.callKey(noID1) == b.callKey(noID2) || b.callKey(noID1) != b.callKey(noID1again) {
		t.Error("without Message-ID the body does not identify the message")
	}
	big := strings.Repeat("0123456789abcdef", 1<<13) + "\r\n" // 128 KiB
	mid := []byte(big)
	mid[len(mid)/2] = 'X'
	end := []byte(big)
	end[len(end)-3] = 'X'
	bigKey := b.callKey(data("a@x", nil, "Subject: a\r\n\r\n"+big))
	if b.callKey(data("a@x", nil, "Subject: a\r\n\r\n"+string(end))) == bigKey ||
		b.callKey(data("a@x", nil, "Subject: a\r\n\r\n"+string(mid))) != bigKey {
		t.Error("a big body without Message-ID: not keyed by its size, head and tail")
	}
	mail1, mail2 := stateAt(t, filter.Mail), stateAt(t, filter.Mail)
	mail2.Session.ClientIP = netip.MustParseAddr("192.0.2.200")
	if b.callKey(mail1) != b.callKey(mail2) || b.callKey(mail1) == b.callKey(stateAt(t, filter.Rcpt)) {
		t.Error("mail keys: the client address counts, or phases collide")
	}
	conn1, conn2 := stateAt(t, filter.Connect), stateAt(t, filter.Connect)
	conn2.Session.ClientIP = netip.MustParseAddr("192.0.2.200")
	if b.callKey(conn1) == b.callKey(conn2) {
		t.Error("connect keys do not tell clients apart")
	}
	var off *breaker
	if off.callKey(base) != 0 {
		t.Error("a disabled breaker hashes")
	}
}
