package upstream

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// wantLast fails unless r is code, enhanced and the one line text.
func wantLast(t *testing.T, what string, r *smtp.Reply, code int, enhanced, text string) {
	t.Helper()
	if r == nil || r.Code != code || r.Enhanced != enhanced || !slices.Equal(r.Lines, []string{text}) {
		t.Fatalf("%s: LastReply %+v, want %d %s %q", what, r, code, enhanced, text)
	}
}

// The reply that accepted the message reaches the caller, sanitized, without
// changing Data's result; each call replaces it, and a failed call clears
// it (docs/TESTPLAN.md row 35: the queue id of what the downstream accepted).
func TestLastReplyOfData(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, append(slices.Clone(opts),
				fakemta.OnNth(fakemta.EndOfData, 1, fakemta.Reply(250, "2.0.0", "Ok: queued as ABC123")),
				fakemta.OnNth(fakemta.EndOfData, 2, fakemta.Reply(250, "2.0.0", "Ok: queued as <evil\x01\x7f>")),
				fakemta.OnNth(fakemta.EndOfData, 3, fakemta.Reject(554, "5.7.1", "Spam")))...)
			c := open(t, m, 2*shortTimeout)
			ctx := testCtx(t)
			if r := c.LastReply(); r != nil {
				t.Fatalf("LastReply before any call: %+v", r)
			}
			if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(1)); err != nil {
				t.Fatal(err)
			}
			wantLast(t, "after Data", c.LastReply(), 250, "2.0.0", "Ok: queued as ABC123")

			if err := c.Mail(ctx, "a@example.org", ""); err != nil {
				t.Fatal(err)
			}
			if r := c.LastReply(); r == nil || r.Code != 250 || slices.Contains(r.Lines, "Ok: queued as ABC123") {
				t.Fatalf("after MAIL: LastReply %+v, want MAIL's", r)
			}
			if err := c.Rcpt(ctx, "b@example.net", ""); err != nil {
				t.Fatal(err)
			}
			if err := c.Data(ctx, testMsg(2)); err != nil {
				t.Fatal(err)
			}
			wantLast(t, "hostile text", c.LastReply(), 250, "2.0.0", "Ok: queued as <evil??>")

			err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(3))
			if r, ok := err.(*smtp.Reply); !ok || r.Code != 554 {
				t.Fatalf("refused Data: %v", err)
			}
			if r := c.LastReply(); r != nil {
				t.Fatalf("LastReply after a refusal: %+v", r)
			}
			if err := c.Mail(ctx, "a\r\nRSET@example.org", ""); err == nil {
				t.Fatal("MAIL with CRLF accepted")
			}
			if r := c.LastReply(); r != nil {
				t.Fatalf("LastReply after a local refusal: %+v", r)
			}
			delivered(t, m, 1, 2)
		})
	}
}

// With XFORWARD, LastReply after Mail is MAIL's reply, not XFORWARD's.
func TestLastReplyXForward(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions(postfixXForward),
		fakemta.On(fakemta.Mail, fakemta.Reply(250, "2.1.0", "Sender ok")))
	c, err := xforwardSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(testCtx(t), "a@example.org", ""); err != nil {
		t.Fatal(err)
	}
	if len(lines(m.Commands(), "XFORWARD")) == 0 {
		t.Fatal("XFORWARD not sent")
	}
	wantLast(t, "after MAIL", c.LastReply(), 250, "2.1.0", "Sender ok")
}

// The pool's wrapper reports the wrapped connection's reply, and nil once it
// has no connection.
func TestLastReplyPooled(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.EndOfData, fakemta.Reply(250, "2.0.0", "Ok: queued as POOL1")))
	p, _ := newTestPool(t, m.Addr(), PoolOptions{})
	ctx := testCtx(t)
	for i := range 2 { // a new connection, then the same one reused
		c, err := p.Open(ctx, Identity{SessionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(i)); err != nil {
			t.Fatal(err)
		}
		wantLast(t, "pooled", c.LastReply(), 250, "2.0.0", "Ok: queued as POOL1")
		c.Close()
		if r := c.LastReply(); r != nil {
			t.Fatalf("LastReply after Close: %+v", r)
		}
	}
	if m.Conns() != 1 {
		t.Fatalf("%d connections", m.Conns())
	}
	if r := (&pooledConn{p: p}).LastReply(); r != nil {
		t.Fatalf("LastReply without a connection: %+v", r)
	}
}

// Maildir names the file it delivered, as a queue id.
func TestLastReplyMaildir(t *testing.T) {
	m, dir := newTestMaildir(t)
	ctx := testCtx(t)
	c, err := m.Open(ctx, Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Rcpt(ctx, "b@y.test", ""); err == nil || c.LastReply() != nil {
		t.Fatalf("RCPT before MAIL: %v, LastReply %+v", err, c.LastReply())
	}
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	wantLast(t, "after MAIL", c.LastReply(), 250, "2.1.0", "Ok")
	if err := c.Rcpt(ctx, "b@y.test", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Data(ctx, testMsg(1)); err != nil {
		t.Fatal(err)
	}
	es := entries(t, filepath.Join(dir, "new"))
	if len(es) != 1 {
		t.Fatalf("%d files in new", len(es))
	}
	wantLast(t, "after Data", c.LastReply(), 250, "2.0.0", "Ok: delivered to maildir as "+es[0].Name())
	if err := c.Data(ctx, testMsg(2)); err == nil || c.LastReply() != nil {
		t.Fatalf("DATA without envelope: %v, LastReply %+v", err, c.LastReply())
	}
}
