package smtpd

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// TestLineTooLong is docs/TESTPLAN.md row 17.
func TestLineTooLong(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.greeted(t)
	c.cmd("NOOP "+strings.Repeat("x", DefaultMaxLineLength-7), 250, "") // exactly the limit
	// A megabyte without a line end: answered and closed long before the
	// server could have buffered it.
	go c.Conn.Write(bytes.Repeat([]byte("A"), 1<<20))
	c.expect(500, "5.5.2")
	c.expectClosed()
}

// TestMessageSize is docs/TESTPLAN.md row 18.
func TestMessageSize(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{MaxMessageSize: 100}, b)
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	c.Write(strings.Repeat("0123456789\r\n", 9) + ".\r\n") // 108 bytes
	c.expect(552, "5.3.4")
	if len(b.Messages()) != 0 {
		t.Fatal("Data called for an oversized message")
	}
	// the session goes on, the transaction is over
	c.cmd("RCPT TO:<b@example.net>", 503, "")
	c.toData()
	c.Write(strings.Repeat("0123456789\r\n", 8) + ".\r\n") // 96 bytes
	c.expect(250, "")
	if !strings.Contains(b.Calls(), "data 96|reset") {
		t.Fatalf("calls %q", b.Calls())
	}
}

// TestMessageFarTooBig: the server stops reading past twice the limit.
func TestMessageFarTooBig(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1000}, newFakeBackend())
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	go c.Conn.Write(bytes.Repeat([]byte("0123456789\r\n"), 1<<18)) // 3 MiB, no end
	c.expect(552, "5.3.4")
	c.expectClosed()
}

// TestNUL is docs/TESTPLAN.md row 26.
func TestNUL(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.greeted(t)
	c.cmd("HELO a\x00b", 501, "5.5.2")
	c.cmd("EHLO client.test", 250, "")
	c.cmd("MAIL FROM:<a\x00@example.org>", 501, "5.5.2")
	c.toData()
	c.Write("Subject: a\x00b\r\n\r\nx\r\n.\r\n")
	c.expect(554, "5.6.0")
	c.cmd("NOOP", 250, "")
	if strings.Contains(ts.backend.Calls(), "data") {
		t.Fatal("Data called with a NUL")
	}
}

// TestSMTPUTF8 is docs/TESTPLAN.md row 27: not advertised, not accepted.
func TestSMTPUTF8(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<a@example.org> SMTPUTF8", 555, "5.5.4")
	c.cmd("MAIL FROM:<\xe7\x94\xa8\xe6\x88\xb7@example.org>", 553, "5.6.7")
	if strings.Contains(ts.backend.Calls(), "mail") {
		t.Fatal("Session.Mail called")
	}
}

// TestIdleTimeout is docs/TESTPLAN.md row 23.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{CommandTimeout: 200 * time.Millisecond}, newFakeBackend())
	c := ts.ehloed(t)
	start := time.Now()
	c.expect(421, "4.4.2")
	c.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	ts.backend.waitClosed(t, 1)
}

// TestDataTotalTimeout is docs/TESTPLAN.md row 22: a client trickling bytes faster
// than the idle timeout is still stopped at the DATA deadline.
func TestDataTotalTimeout(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{CommandTimeout: 300 * time.Millisecond, DataTimeout: 800 * time.Millisecond}, b)
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	c.expect(421, "4.4.2")
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	c.expectClosed()
	if elapsed < 700*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("closed after %v, want about the 800ms DATA deadline", elapsed)
	}
	b.waitClosed(t, 1)
	if strings.Contains(b.Calls(), "data") {
		t.Fatal("Data called after a timeout")
	}
}

// TestConnectionCaps is docs/TESTPLAN.md row 24.
func TestConnectionCaps(t *testing.T) {
	t.Run("global", func(t *testing.T) {
		ts := startServer(t, Config{MaxConnections: 2}, newFakeBackend())
		c1 := ts.greeted(t)
		c2 := ts.greeted(t)
		c3 := ts.dial(t)
		c3.expect(421, "4.7.0")
		c3.expectClosed()
		c1.cmd("NOOP", 250, "") // existing sessions unaffected
		c2.cmd("NOOP", 250, "")
		c1.cmd("QUIT", 221, "")
		ts.backend.waitClosed(t, 1)
		waitCount(t, ts, 1)
		ts.greeted(t).cmd("NOOP", 250, "")
	})
	t.Run("per IP", func(t *testing.T) {
		ts := startServer(t, Config{MaxConnectionsPerIP: 1}, newFakeBackend())
		c1 := ts.greeted(t)
		c2 := ts.dial(t)
		c2.expect(421, "4.7.0")
		c2.expectClosed()
		c1.cmd("NOOP", 250, "")
		c1.cmd("QUIT", 221, "")
		waitCount(t, ts, 0)
		ts.greeted(t)
		if ts.backend.sessions != 2 {
			t.Fatalf("%d sessions, want 2", ts.backend.sessions)
		}
	})
}

// waitCount waits until the server counts n connections.
func waitCount(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", ts.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPanic is docs/TESTPLAN.md row 56: 421 for that client only.
func TestPanic(t *testing.T) {
	b := newFakeBackend()
	b.mail = func(from string) *smtp.Reply {
		if from == "panic@example.org" {
			panic("boom")
		}
		return nil
	}
	ts := startServer(t, Config{}, b)
	ts.allowPanic = true
	other := ts.ehloed(t)
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<panic@example.org>", 421, "4.3.0")
	c.expectClosed()
	b.waitClosed(t, 1)
	other.cmd("MAIL FROM:<a@example.org>", 250, "")
	other.cmd("QUIT", 221, "")
	b.waitClosed(t, 2)
	if !ts.logs.has("panic in session") {
		t.Fatal("panic not logged")
	}
	ts.greeted(t).cmd("NOOP", 250, "") // the server still accepts
}
