package smtpd

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// smuggle is the tail of a docs/TESTPLAN.md row A6 scanner payload: a complete second
// transaction after a fake end of data. Its last ".\r\n" follows a real CRLF,
// so it is the real end of data.
const smuggle = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nFrom: ceo@example.net\r\n\r\nsmuggled\r\n.\r\n"

// TestSmuggling covers docs/TESTPLAN.md rows A1–A6 and A9 over the wire: whatever
// the fake end of data, the backend sees at most the one transaction the
// client opened.
func TestSmuggling(t *testing.T) {
	const head = "Subject: hi\r\n\r\nbody"
	cases := []struct {
		name   string
		fake   string
		bareLF smtp.BareLF
		code   int    // reply to the end of data
		msg    string // what Data received, when it was called
		closed bool
	}{
		{"A1 normalize", "\n.\n", smtp.BareLFNormalize, 250, head + "\r\n.\r\n" + smuggle[:len(smuggle)-3], false},
		{"A1 reject", "\n.\n", smtp.BareLFReject, 500, "", true},
		{"A2 lf-dot-crlf normalize", "\n.\r\n", smtp.BareLFNormalize, 250, head + "\r\n.\r\n" + smuggle[:len(smuggle)-3], false},
		{"A2 lf-dot-crlf reject", "\n.\r\n", smtp.BareLFReject, 500, "", true},
		{"A2 crlf-dot-lf normalize", "\r\n.\n", smtp.BareLFNormalize, 250, head + "\r\n.\r\n" + smuggle[:len(smuggle)-3], false},
		{"A2 crlf-dot-lf reject", "\r\n.\n", smtp.BareLFReject, 500, "", true},
		{"A3 cr-dot-cr", "\r.\r", smtp.BareLFNormalize, 500, "", true},
		{"A3 cr-dot-lf", "\r.\n", smtp.BareLFNormalize, 500, "", true},
		{"A3 crlf-dot-cr", "\r\n.\r", smtp.BareLFNormalize, 500, "", true},
		{"A4 nul", "\r\n\x00.\r\n", smtp.BareLFNormalize, 554, "", false},
		{"A5 cr-cr-lf", "\r\r\n.\r\r\n", smtp.BareLFNormalize, 500, "", true},
		{"A5 cr-cr-lf reject", "\r\r\n.\r\r\n", smtp.BareLFReject, 500, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBackend()
			b.data = accept250
			ts := startServer(t, Config{BareLF: tc.bareLF}, b)
			c := ts.inRcpt(t)
			c.cmd("DATA", 354, "")
			c.Write(head + tc.fake + smuggle)
			c.expect(tc.code, "")
			if tc.closed {
				c.expectClosed()
			} else {
				c.cmd("NOOP", 250, "")
				c.cmd("QUIT", 221, "")
			}
			b.waitClosed(t, 1)
			calls := b.Calls()
			if n := strings.Count(calls, "mail "); n != 1 {
				t.Fatalf("%d MAIL transactions: %q", n, calls)
			}
			msgs := b.Messages()
			switch {
			case tc.msg == "" && len(msgs) != 0:
				t.Fatalf("Data called on a refused message: %q", msgs)
			case tc.msg != "" && (len(msgs) != 1 || string(msgs[0]) != tc.msg):
				t.Fatalf("messages %q, want exactly %q", msgs, tc.msg)
			}
		})
	}
}

// TestDotUnstuffing is docs/TESTPLAN.md row A8: the backend sees ".foo" for "..foo".
func TestDotUnstuffing(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{}, b)
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	c.Write("..foo\r\n..\r\n...\r\n.\r\n")
	c.expect(250, "")
	if msgs := b.Messages(); len(msgs) != 1 || string(msgs[0]) != ".foo\r\n.\r\n..\r\n" {
		t.Fatalf("messages %q", msgs)
	}
}

// TestBareLFCommand is docs/TESTPLAN.md row A7: "EHLO x\n" is never executed.
func TestBareLFCommand(t *testing.T) {
	t.Run("normalize", func(t *testing.T) {
		ts := startServer(t, Config{}, newFakeBackend())
		c := ts.greeted(t)
		c.Write("EHLO x\n")
		c.expect(500, "5.5.2")
		c.Write("EHLO y\rMAIL FROM:<a@b.example>\r\n")
		c.expect(500, "5.5.2")
		c.cmd("MAIL FROM:<a@b.example>", 503, "5.5.1") // no EHLO took effect
		if got := ts.backend.Calls(); got != "" {
			t.Fatalf("calls %q", got)
		}
	})
	t.Run("reject", func(t *testing.T) {
		ts := startServer(t, Config{BareLF: smtp.BareLFReject}, newFakeBackend())
		c := ts.greeted(t)
		c.Write("EHLO x\n")
		c.expect(500, "5.5.2")
		c.expectClosed()
		ts.backend.waitClosed(t, 1)
		if got := ts.backend.Calls(); got != "close" {
			t.Fatalf("calls %q", got)
		}
	})
}

// TestEarlyTalker is docs/TESTPLAN.md row 12.
func TestEarlyTalker(t *testing.T) {
	t.Run("reject with delay", func(t *testing.T) {
		ts := startServer(t, Config{GreetDelay: 3 * time.Second}, newFakeBackend())
		c := ts.dial(t)
		c.Write("EHLO early.test\r\n")
		c.expect(554, "5.5.1")
		c.expectClosed()
		ts.backend.waitClosed(t, 1)
		if got := ts.backend.Calls(); got != "close" {
			t.Fatalf("calls %q", got)
		}
	})
	t.Run("reject without delay", func(t *testing.T) {
		b := newFakeBackend()
		b.gate = make(chan struct{})
		ts := startServer(t, Config{}, b)
		c := ts.dial(t)
		c.Write("EHLO early.test\r\n")
		close(b.gate) // the bytes are in the server's socket before it looks
		c.expect(554, "5.5.1")
		c.expectClosed()
	})
	t.Run("quiet client with delay", func(t *testing.T) {
		ts := startServer(t, Config{GreetDelay: 50 * time.Millisecond}, newFakeBackend())
		c := ts.greeted(t)
		c.cmd("EHLO client.test", 250, "")
	})
	t.Run("ignore", func(t *testing.T) {
		ts := startServer(t, Config{EarlyTalker: EarlyTalkerIgnore, GreetDelay: time.Second}, newFakeBackend())
		c := ts.dial(t)
		c.Write("EHLO early.test\r\nMAIL FROM:<a@example.org>\r\n")
		c.expect(220, "")
		c.expect(250, "")
		c.expect(250, "2.1.0")
	})
}
