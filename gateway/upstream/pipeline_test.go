package upstream

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// envelope returns MAIL FROM from and RCPT TO each of to.
func envelope(from string, to ...string) []Command {
	cmds := []Command{{Path: from}}
	for _, r := range to {
		cmds = append(cmds, Command{Rcpt: true, Path: r})
	}
	return cmds
}

// pipeline runs cmds on c, which must pipeline, and returns the results and
// how many reads the MTA made for them.
func pipeline(t *testing.T, m *fakemta.MTA, c Conn, cmds []Command) ([]error, int) {
	t.Helper()
	p, ok := c.(Pipeliner)
	if !ok || !p.Pipelining() {
		t.Fatalf("%T does not pipeline", c)
	}
	before := m.Reads()
	errs := p.Pipeline(testCtx(t), cmds)
	if len(errs) != len(cmds) {
		t.Fatalf("%d results for %d commands", len(errs), len(cmds))
	}
	return errs, m.Reads() - before
}

// wantCodes fails unless each result is nil (code 0) or a reply with the
// code at the same index.
func wantCodes(t *testing.T, errs []error, codes ...int) {
	t.Helper()
	for i, err := range errs {
		got := 0
		var r *smtp.Reply
		switch {
		case err == nil:
		case errors.As(err, &r):
			got = r.Code
		default:
			t.Fatalf("result %d: connection error %v, want %d", i, err, codes[i])
		}
		if got != codes[i] {
			t.Fatalf("result %d: %v, want code %d (all: %v)", i, err, codes[i], errs)
		}
	}
}

// wantAllLost fails unless every result is a lost connection: no reply at
// all, so nothing can pass for an acceptance.
func wantAllLost(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if classify(err) != lost {
			t.Fatalf("result %d: %v, want a lost connection (all: %v)", i, err, errs)
		}
	}
}

// wantNoDelivery fails unless DATA on c now fails and m has no message.
func wantNoDelivery(t *testing.T, m *fakemta.MTA, c Conn) {
	t.Helper()
	if err := c.Data(testCtx(t), testMsg(1)); err == nil {
		t.Fatal("Data accepted after a failed batch")
	}
	delivered(t, m)
}

// MAIL and three RCPTs reach the server in one read, where lock-step takes
// one each, and the message then goes to all three.
func TestPipelineOneWrite(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, opts...)
			c := open(t, m, 2*shortTimeout)
			ctx := testCtx(t)

			before := m.Reads()
			if err := send(ctx, c, "a@example.org", []string{"b1@example.net", "b2@example.net", "b3@example.net"}, testMsg(1)); err != nil {
				t.Fatal(err)
			}
			lockstep := m.Reads() - before

			errs, reads := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2@example.net", "b3@example.net"))
			wantCodes(t, errs, 0, 0, 0, 0)
			if reads != 1 {
				t.Fatalf("MAIL and 3 RCPTs took %d reads, want 1", reads)
			}
			if err := c.Data(ctx, testMsg(2)); err != nil {
				t.Fatal(err)
			}
			// Lock-step: MAIL, 3 RCPT, DATA and the message at least.
			if lockstep < 6 {
				t.Fatalf("lock-step transaction took %d reads, want at least 6", lockstep)
			}
			delivered(t, m, 1, 2)
			msgs := m.Messages()
			if got := msgs[1].Rcpts; !slices.Equal(got, []string{"b1@example.net", "b2@example.net", "b3@example.net"}) {
				t.Fatalf("recipients %v", got)
			}
		})
	}
}

// Each recipient gets its own reply, in order, when some are refused.
func TestPipelineMixedRecipients(t *testing.T) {
	m := fakemta.Start(t,
		fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Reject(550, "5.1.1", "User unknown")),
		fakemta.OnNth(fakemta.Rcpt, 3, fakemta.Tempfail(450, "4.2.0", "Greylisted")))
	c := open(t, m, 2*shortTimeout)
	errs, reads := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2@example.net", "b3@example.net", "b4@example.net"))
	wantCodes(t, errs, 0, 0, 550, 450, 0)
	if reads != 1 {
		t.Fatalf("%d reads, want 1", reads)
	}
	var r *smtp.Reply
	if errors.As(errs[2], &r); r.Enhanced != "5.1.1" || r.Lines[0] != "User unknown" {
		t.Fatalf("RCPT 2 reply %+v, want the server's", r)
	}
	if err := c.Data(testCtx(t), testMsg(1)); err != nil {
		t.Fatal(err)
	}
	if got := m.Messages()[0].Rcpts; !slices.Equal(got, []string{"b1@example.net", "b4@example.net"}) {
		t.Fatalf("recipients %v", got)
	}
}

// RCPTs behind a MAIL the server refused were sent, and their refusals come
// back; the connection stays usable.
func TestPipelineMailRefused(t *testing.T) {
	m := fakemta.Start(t, fakemta.RawMode(), fakemta.OnNth(fakemta.Mail, 1, fakemta.Reject(550, "5.7.1", "Sender refused")))
	c := open(t, m, 2*shortTimeout)
	errs, _ := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2@example.net"))
	wantCodes(t, errs, 550, 503, 503)

	errs, _ = pipeline(t, m, c, envelope("a@example.org", "b1@example.net"))
	wantCodes(t, errs, 0, 0)
	if err := c.Data(testCtx(t), testMsg(1)); err != nil {
		t.Fatal(err)
	}
	delivered(t, m, 1)
}

// A MAIL refused before sending (a parameter the server cannot take) sends
// nothing: its RCPTs get 503 5.5.1 without a word to the server.
func TestPipelineMailRefusedLocally(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions("PIPELINING"))
	c := open(t, m, 2*shortTimeout)
	before := len(m.Commands())
	errs := c.(Pipeliner).Pipeline(testCtx(t), []Command{
		{Path: "a@example.org", Params: "SMTPUTF8"},
		{Rcpt: true, Path: "b@example.net"},
	})
	wantCodes(t, errs, 554, 503)
	if got := m.Commands()[before:]; len(got) != 0 {
		t.Fatalf("sent %q", got)
	}
	var r *smtp.Reply
	if errors.As(errs[1], &r); r.Enhanced != "5.5.1" {
		t.Fatalf("RCPT reply %+v", r)
	}
}

// A recipient refused before sending (a control character) is not sent;
// the others are.
func TestPipelineRcptRefusedLocally(t *testing.T) {
	m := fakemta.Start(t)
	c := open(t, m, 2*shortTimeout)
	errs, _ := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2\r\nRSET@example.net", "b3@example.net"))
	wantCodes(t, errs, 0, 0, 501, 0)
	if got := lines(m.Commands(), "RCPT"); len(got) != 2 {
		t.Fatalf("RCPTs sent: %q", got)
	}
}

// Whatever goes wrong in the middle of a batch fails every command of it,
// the ones already answered included, and loses the connection: nothing
// of it may pass for accepted.
func TestPipelineFaults(t *testing.T) {
	cases := map[string][]fakemta.Option{
		"dies after the first RCPT": {fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Drop())},
		"hangs":                     {fakemta.OnNth(fakemta.Rcpt, 3, fakemta.Hang())},
		"garbage":                   {fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Garbage())},
		"extra reply at the end":    {fakemta.OnNth(fakemta.Rcpt, 3, fakemta.Send("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"))},
		"reply of a wrong class":    {fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Send("354 go ahead\r\n"))},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, opts...)
			c := open(t, m, shortTimeout)
			errs, _ := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2@example.net", "b3@example.net"))
			wantAllLost(t, errs)
			if err := c.Data(testCtx(t), testMsg(1)); err == nil {
				t.Fatal("Data accepted after a failed batch")
			}
			delivered(t, m)
		})
	}
}

// A server that refuses MAIL and then accepts its RCPTs is out of step.
// The fake MTA does so when a second MAIL comes inside an open transaction
// and its reply is scripted.
func TestPipelineRcptAfterRefusedMail(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 2, fakemta.Send("550 5.7.1 No\r\n")))
	c := open(t, m, shortTimeout)
	errs, _ := pipeline(t, m, c, envelope("a@example.org", "b1@example.net"))
	wantCodes(t, errs, 0, 0)
	errs, _ = pipeline(t, m, c, envelope("a@example.org", "b2@example.net"))
	wantAllLost(t, errs)
	wantNoDelivery(t, m, c)
}

// An extra reply in the middle of a batch shifts every reply after it; if
// the batch cannot see it, the DATA that follows does: never a 250.
func TestPipelineExtraReplyInside(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Send("250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n")))
	c := open(t, m, shortTimeout)
	errs, _ := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2@example.net"))
	if slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
		wantAllLost(t, errs)
	}
	wantNoDelivery(t, m, c)
}

// A 421 in the middle of a batch fails all of it with the 421.
func TestPipeline421(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Shutdown()))
	c := open(t, m, shortTimeout)
	errs, _ := pipeline(t, m, c, envelope("a@example.org", "b1@example.net", "b2@example.net"))
	wantCodes(t, errs, 421, 421, 421)
	if err := c.Rcpt(testCtx(t), "b3@example.net", ""); err == nil {
		t.Fatal("connection still used after 421")
	}
}

// XFORWARD goes in the same write, before MAIL; a refused XFORWARD fails the
// batch and drops the connection, since its MAIL was sent all the same.
func TestPipelineXForward(t *testing.T) {
	id := Identity{ClientIP: "192.0.2.1", Helo: "client.example"}
	nx := len(xforwardLines(attrSet(strings.TrimPrefix(postfixXForward, "XFORWARD ")), id))
	// The first XFORWARD line of the second transaction is refused.
	m := fakemta.Start(t, fakemta.Extensions("PIPELINING", postfixXForward),
		fakemta.OnNth(fakemta.XForward, nx+1, fakemta.Reject(550, "5.7.0", "Error: insufficient authorization")))
	c, err := xforwardSMTP(m.Addr()).Open(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errs, reads := pipeline(t, m, c, envelope("a@example.org", "b@example.net"))
	wantCodes(t, errs, 0, 0)
	if reads != 1 {
		t.Fatalf("%d reads, want 1", reads)
	}
	cmds := m.Commands()
	n := len(cmds)
	if n < nx+2 || !strings.HasPrefix(cmds[n-nx-2], "XFORWARD ") || !strings.Contains(cmds[n-nx-2], "ADDR=192.0.2.1") ||
		!strings.HasPrefix(cmds[n-2], "MAIL FROM:<a@example.org>") {
		t.Fatalf("commands %q, want %d XFORWARD, MAIL, RCPT", cmds, nx)
	}
	if err := c.Data(testCtx(t), testMsg(1)); err != nil {
		t.Fatal(err)
	}
	errs, _ = pipeline(t, m, c, envelope("a@example.org", "b@example.net"))
	wantAllLost(t, errs)
	delivered(t, m, 1)
}

// A batch larger than the window is written in several parts, each read
// before the next is written, and every reply still lands on its command.
func TestPipelineWindow(t *testing.T) {
	const n = 600
	m := fakemta.Start(t, fakemta.RawMode(), fakemta.OnNth(fakemta.Rcpt, 450, fakemta.Reject(550, "5.1.1", "User unknown")))
	c := open(t, m, 2*shortTimeout)
	var to []string
	for i := range n {
		to = append(to, fmt.Sprintf("recipient-number-%04d-with-a-long-local-part@example.net", i))
	}
	errs, reads := pipeline(t, m, c, envelope("a@example.org", to...))
	want := make([]int, n+1)
	want[450] = 550
	wantCodes(t, errs, want...)
	if reads < 2 {
		t.Fatalf("%d reads for %d bytes of commands", reads, n*60)
	}
	if err := c.Data(testCtx(t), testMsg(1)); err != nil {
		t.Fatal(err)
	}
	if got := len(m.Messages()[0].Rcpts); got != n-1 {
		t.Fatalf("%d recipients, want %d", got, n-1)
	}
}

// A pooled connection pipelines through its wrapper, and a batch on a
// stale one is retried once on a new connection.
func TestPoolPipeline(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 2, fakemta.Shutdown()))
	p := NewPool(newTestSMTP(m.Addr(), 2*shortTimeout), PoolOptions{})
	defer p.Close()
	ctx := testCtx(t)
	for n := 1; n <= 2; n++ {
		c, err := p.Open(ctx, Identity{SessionID: fmt.Sprint("s", n)})
		if err != nil {
			t.Fatal(err)
		}
		errs, _ := pipeline(t, m, c, envelope("a@example.org", "b@example.net"))
		wantCodes(t, errs, 0, 0)
		if err := c.Data(ctx, testMsg(n)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	delivered(t, m, 1, 2)
	if got := m.Conns(); got != 2 {
		t.Fatalf("%d connections, want 2 (one reused, found stale, replaced)", got)
	}
}
