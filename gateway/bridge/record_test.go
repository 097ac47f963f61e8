package bridge

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// recorded is a Recorder that keeps copies of what it is told.
type recorded struct {
	mu sync.Mutex
	ts []Transaction
}

func (r *recorded) Record(t *Transaction) {
	c := *t
	c.Steps = slices.Clone(t.Steps)
	c.Rcpts = slices.Clone(t.Rcpts)
	c.Msg = nil
	r.mu.Lock()
	r.ts = append(r.ts, c)
	r.mu.Unlock()
}

// wait returns the first n transactions once they are recorded.
func (r *recorded) wait(t *testing.T, n int) []Transaction {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.ts)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorded %d transactions, want %d: %+v", len(got), n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startRecorded(t *testing.T, gen *Generation) string {
	t.Helper()
	return serveGeneration(t, gen, nil).addr
}

// Every way a transaction ends is recorded once, with its steps, reply and
// queue id; `sluice test`'s offline runs are not.
func TestRecorderSeesEveryOutcome(t *testing.T) {
	mta := fakemta.Start(t, fakemta.On(fakemta.EndOfData, fakemta.Reply(250, "2.0.0", "Ok: queued as Q1234")))
	mailHook := &hook{phase: filter.Mail, fn: func(st *filter.State) (filter.Verdict, error) {
		if st.From == "spam@bad.example" {
			return filter.Reject, nil
		}
		return filter.Continue, nil
	}}
	rcptHook := &hook{phase: filter.Rcpt, fn: func(st *filter.State) (filter.Verdict, error) {
		if strings.HasPrefix(st.Rcpt, "nobody@") {
			st.Reply = smtp.NewReply(550, "5.1.1", "No such user")
			return filter.Reject, nil
		}
		return filter.Continue, nil
	}}
	dataHook := &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		switch {
		case strings.Contains(string(st.Msg.Body), "virus"):
			return filter.Reject, nil
		case strings.Contains(string(st.Msg.Body), "odd"):
			return filter.Quarantine, nil
		}
		return filter.Continue, nil
	}}
	rec := &recorded{}
	gen := &Generation{Policy: &policy.Policy{}, upstream: smtpUp(mta, 5*time.Second), hostname: "sluice.test",
		log: slog.New(slog.DiscardHandler), obs: nopObserver{}, rec: rec,
		limits: message.Limits{MaxHeaderBytes: 64 << 10, MaxHeaderFields: 1000},
		chain:  &filter.Chain{Entries: []filter.Entry{{Name: "mail", Plugin: mailHook}, {Name: "rcpt", Plugin: rcptHook}, {Name: "data", Plugin: dataHook}}}}
	addr := startRecorded(t, gen)

	c := dial(t, addr)
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250 2.0.0 Ok: queued as Q1234") {
		t.Fatal(got)
	}
	c.cmd("MAIL FROM:<spam@bad.example>", "550")
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<nobody@example.net>", "550")
	c.cmd("RSET", "250")
	c.send("a@example.org", []string{"b@example.net"}, "Subject: x\r\n\r\nvirus")
	c.cmd("RSET", "250")
	c.send("a@example.org", []string{"b@example.net"}, "Subject: x\r\n\r\nodd")
	c.cmd("QUIT", "221")

	got := rec.wait(t, 5)
	want := []struct {
		outcome, from, code, queue string
		steps                      int
	}{
		{"delivered", "a@example.org", "250", "Q1234", 3},
		{"rejected", "spam@bad.example", "550", "", 1},
		{"rejected", "a@example.org", "550", "", 2},
		{"rejected", "a@example.org", "550", "", 3},
		{"quarantined", "a@example.org", "250", "", 3},
	}
	for i, w := range want {
		g := got[i]
		if g.Outcome != w.outcome || g.From != w.from || g.Reply == nil || !strings.HasPrefix(g.Reply.Format(), w.code) ||
			(w.queue != "" && g.QueueID != w.queue) || len(g.Steps) != w.steps || g.Session == "" || !g.ClientIP.IsLoopback() || g.Helo != "client.test" {
			t.Errorf("transaction %d: got %+v (reply %v), want %+v", i, g, g.Reply, w)
		}
	}
	if got[0].Size == 0 || len(got[0].Rcpts) != 1 {
		t.Errorf("delivered: size %d rcpts %v", got[0].Size, got[0].Rcpts)
	}
	if !slices.Equal(got[2].Refused, []string{"nobody@example.net"}) {
		t.Errorf("refused recipients %v", got[2].Refused)
	}
	if len(got) != 5 {
		t.Errorf("recorded %d transactions, want 5", len(got))
	}

	// An offline run of the same generation records nothing.
	gen.acquire()
	res := RunTest(context.Background(), gen, TestInput{ClientIP: "192.0.2.1", Helo: "h", From: "a@example.org",
		Rcpts: []string{"b@example.net"}, Message: []byte("Subject: x\n\nhello\n")})
	gen.Release()
	if res.Action != "accept" {
		t.Fatalf("offline run: %+v", res)
	}
	if n := len(rec.wait(t, 5)); n != 5 {
		t.Fatalf("the offline run was recorded: %d transactions", n)
	}
}
