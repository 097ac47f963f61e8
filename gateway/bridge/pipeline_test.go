package bridge

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// refuseHook is a rcpt plugin that refuses the recipients starting with
// "hook".
func refuseHook() *hook {
	return &hook{phase: filter.Rcpt, fn: func(st *filter.State) (filter.Verdict, error) {
		if strings.HasPrefix(st.Rcpt, "hook") {
			st.Reply = smtp.NewReply(550, "5.7.1", "Denied by test plugin")
			return filter.Reject, nil
		}
		return filter.Continue, nil
	}}
}

// pipelined writes MAIL FROM:<a@example.org>, a RCPT TO per recipient and
// DATA in one write, and checks the replies in order.
func (c *client) pipelined(rcpts []string, want ...string) {
	c.T.Helper()
	var b strings.Builder
	b.WriteString("MAIL FROM:<a@example.org>\r\n")
	for _, r := range rcpts {
		b.WriteString("RCPT TO:<" + r + ">\r\n")
	}
	b.WriteString("DATA\r\n")
	c.Write(b.String())
	for _, w := range want {
		c.expect(w)
	}
}

// commandsSince returns the downstream's command lines from index n on.
func commandsSince(m *fakemta.MTA, n int) []string { return m.Commands()[n:] }

// A pipelining client's MAIL and RCPTs reach the downstream in one write
// (lock-step takes one each), each RCPT gets its own answer in order,
// whether the plugin or the downstream refused it, and a recipient the
// plugin refused is never sent.
func TestPipelinedEnvelopeOneWrite(t *testing.T) {
	mta := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 4, fakemta.Reject(550, "5.1.1", "User unknown")))
	var dataRcpts atomic.Int32
	count := &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		dataRcpts.Store(int32(len(st.Rcpts)))
		return filter.Continue, nil
	}}
	g := startGateway(t, smtpUp(mta, 5*time.Second),
		filter.Entry{Name: "r", Plugin: refuseHook()}, filter.Entry{Name: "d", Plugin: count})
	c := dial(t, g.addr)

	reads := mta.Reads()
	if got := c.send("a@example.org", []string{"x1@example.net", "x2@example.net"}, msg); !strings.HasPrefix(got, "250") {
		t.Fatalf("lock-step transaction: %q", got)
	}
	lockstep := mta.Reads() - reads

	reads, cmds := mta.Reads(), len(mta.Commands())
	c.pipelined([]string{"b1@example.net", "hook@example.net", "no@example.net", "b4@example.net"},
		"250 2.1.0", "250 2.1.5", "550 5.7.1", "550 5.1.1", "250 2.1.5", "354")
	if n := mta.Reads() - reads; n != 1 {
		t.Errorf("pipelined MAIL and 3 RCPTs: %d downstream reads, want 1 (lock-step transaction: %d)", n, lockstep)
	}
	c.Write(msg + "\r\n.\r\n")
	c.expect("250 2.0.0")
	want := []string{"MAIL FROM:<a@example.org>", "RCPT TO:<b1@example.net>", "RCPT TO:<no@example.net>", "RCPT TO:<b4@example.net>", "DATA"}
	if got := commandsSince(mta, cmds); !slices.Equal(got, want) {
		t.Errorf("downstream commands %q, want %q", got, want)
	}
	msgs := mta.Messages()
	if len(msgs) != 2 || !slices.Equal(msgs[1].Rcpts, []string{"b1@example.net", "b4@example.net"}) {
		t.Fatalf("downstream messages %+v", msgs)
	}
	if n := dataRcpts.Load(); n != 2 {
		t.Errorf("data plugin saw %d recipients, want 2", n)
	}
	if lockstep < 5 {
		t.Errorf("lock-step transaction: %d downstream reads, want at least 5", lockstep)
	}
}

// A MAIL the downstream refuses ends the transaction: the RCPTs sent with
// it and the DATA get 503, and the next transaction goes through.
func TestPipelinedMailRefused(t *testing.T) {
	mta := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 1, fakemta.Reject(550, "5.7.1", "Sender refused")))
	g := startGateway(t, smtpUp(mta, 5*time.Second))
	c := dial(t, g.addr)
	c.pipelined([]string{"b1@example.net", "b2@example.net"}, "550 5.7.1", "503 5.5.1", "503 5.5.1", "503 5.5.1")
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
		t.Fatalf("next transaction: %q", got)
	}
	if n := len(mta.Messages()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

// A downstream that fails in the middle of the batch, or answers out of
// step, tempfails the whole group: the MAIL gets 451, so nothing of it is
// accepted, and the downstream connection is dropped; the next transaction
// goes through a new one.
func TestPipelinedDownstreamFails(t *testing.T) {
	cases := map[string]fakemta.Option{
		"dies":        fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Drop()),
		"extra reply": fakemta.OnNth(fakemta.Rcpt, 3, fakemta.Send("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n")),
		"garbage":     fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Garbage()),
		"421":         fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Shutdown()),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			mta := fakemta.Start(t, opt)
			g := startGateway(t, smtpUp(mta, 5*time.Second))
			c := dial(t, g.addr)
			c.pipelined([]string{"b1@example.net", "b2@example.net", "b3@example.net"},
				"451 4.4.2", "503 5.5.1", "503 5.5.1", "503 5.5.1", "503 5.5.1")
			if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
				t.Fatalf("next transaction: %q", got)
			}
			if n := mta.Conns(); n != 2 {
				t.Errorf("%d downstream connections, want 2", n)
			}
			if msgs := mta.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].Rcpts, []string{"b@example.net"}) {
				t.Fatalf("downstream messages %+v", msgs)
			}
		})
	}
}

// A downstream without PIPELINING gets the same commands one at a time,
// and the client the same replies.
func TestPipelinedClientLockstepDownstream(t *testing.T) {
	mta := fakemta.Start(t, fakemta.Extensions("8BITMIME", "ENHANCEDSTATUSCODES"),
		fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Reject(550, "5.1.1", "User unknown")))
	g := startGateway(t, smtpUp(mta, 5*time.Second), filter.Entry{Name: "r", Plugin: refuseHook()})
	c := dial(t, g.addr)
	c.pipelined([]string{"b1@example.net", "hook@example.net", "no@example.net"}, "250", "250", "550 5.7.1", "550 5.1.1", "354")
	reads := mta.Reads()
	c.Write(msg + "\r\n.\r\n")
	c.expect("250 2.0.0")
	if n := mta.Reads() - reads; n < 2 {
		t.Errorf("DATA and message: %d reads", n)
	}
	if msgs := mta.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].Rcpts, []string{"b1@example.net"}) {
		t.Fatalf("downstream messages %+v", msgs)
	}
}

// Many pipelined transactions on one session, each with its own group,
// deliver every message to the right recipients.
func TestPipelinedSeveralTransactions(t *testing.T) {
	mta := fakemta.Start(t)
	g := startGateway(t, smtpUp(mta, 5*time.Second))
	c := dial(t, g.addr)
	for i := range 5 {
		to := []string{fmt.Sprintf("r%d-1@example.net", i), fmt.Sprintf("r%d-2@example.net", i)}
		c.pipelined(to, "250", "250", "250", "354")
		c.Write(msg + "\r\n.\r\n")
		c.expect("250 2.0.0")
	}
	msgs := mta.Messages()
	if len(msgs) != 5 || !slices.Equal(msgs[4].Rcpts, []string{"r4-1@example.net", "r4-2@example.net"}) || mta.Conns() != 1 {
		t.Fatalf("downstream messages %+v over %d connections", msgs, mta.Conns())
	}
}
