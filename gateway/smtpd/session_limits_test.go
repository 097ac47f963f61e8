package smtpd

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// trickle writes s one byte every interval, then keeps writing "x", until
// stop is closed or a write fails; wait for it with the returned WaitGroup.
func trickle(c *client, s string, interval time.Duration, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			b := byte('x')
			if i < len(s) {
				b = s[i]
			}
			if _, err := c.Conn.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	return &wg
}

// TestCommandTimeoutWholeLine: a command line trickled one byte at a time,
// faster than the timeout, is still cut at command_timeout (ISSUE 9 §4).
func TestCommandTimeoutWholeLine(t *testing.T) {
	const timeout = time.Second
	ts := startServer(t, Config{CommandTimeout: timeout}, newFakeBackend())
	c := ts.ehloed(t)
	stop := make(chan struct{})
	start := time.Now()
	wg := trickle(c, "NOOP", 100*time.Millisecond, stop)
	c.expect(421, "4.4.2")
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	c.expectClosed()
	if elapsed > timeout+2*time.Second {
		t.Fatalf("closed after %v, want about the %v command timeout", elapsed, timeout)
	}
	ts.backend.waitClosed(t, 1)
}

// TestTricklersCannotHoldTheServer: max_connections clients trickling bytes
// are all cut at command_timeout; then a real client is served.
func TestTricklersCannotHoldTheServer(t *testing.T) {
	const (
		conns   = 8
		timeout = time.Second
	)
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{CommandTimeout: timeout, MaxConnections: conns}, b)
	stop := make(chan struct{})
	var tricklers []*client
	var wgs []*sync.WaitGroup
	start := time.Now()
	for range conns {
		c := ts.greeted(t)
		tricklers = append(tricklers, c)
		wgs = append(wgs, trickle(c, "EHLO slow.example", 100*time.Millisecond, stop))
	}
	full := ts.dial(t)
	full.expect(421, "4.7.0") // the cap is reached
	full.expectClosed()
	for _, c := range tricklers {
		c.expect(421, "4.4.2")
		c.expectClosed()
	}
	if elapsed := time.Since(start); elapsed > timeout+3*time.Second {
		t.Fatalf("tricklers held the server for %v, command timeout %v", elapsed, timeout)
	}
	close(stop)
	for _, wg := range wgs {
		wg.Wait()
	}
	waitCount(t, ts, 0)
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	c.Write("Subject: hi\r\n\r\nbody\r\n.\r\n")
	c.expect(250, "")
	c.cmd("QUIT", 221, "")
}

// TestJunkCommandLimit: the command after junk_command_limit junk commands
// (NOOP, RSET, VRFY, HELP, EHLO, unknown) gets 421 4.7.0 and the session
// ends.
func TestJunkCommandLimit(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.ehloed(t)
	junk := []string{"NOOP", "RSET", "VRFY postmaster", "HELP", "EHLO again.example"}
	// Pipelined, as an attacker would: one write, then every reply.
	var b strings.Builder
	for i := range DefaultJunkCommandLimit - 1 { // the first EHLO counts
		b.WriteString(junk[i%len(junk)] + "\r\n")
	}
	b.WriteString("NOOP\r\n")
	c.Write(b.String())
	for i := range DefaultJunkCommandLimit - 1 {
		r, err := smtp.ReadReply(c.R)
		if err != nil || r.Class() != 2 {
			t.Fatalf("junk command %d: %v %v", i, r, err)
		}
	}
	c.expect(421, "4.7.0")
	c.expectClosed()
	ts.backend.waitClosed(t, 1)

	// Unknown commands are junk too: with a low limit they hit it before
	// the error limit.
	ts2 := startServer(t, Config{JunkCommandLimit: 3}, newFakeBackend())
	c2 := ts2.greeted(t)
	for range 3 { // EHLO would count too
		c2.cmd("XYZZY", 500, "5.5.2")
	}
	c2.cmd("XYZZY", 421, "4.7.0")
	c2.expectClosed()
}

// refuseNobody refuses the recipients whose address starts with "nobody"
// with 550 5.1.1, as a backend that knows its users does.
func refuseNobody(to string) *smtp.Reply {
	if strings.HasPrefix(to, "nobody") {
		return smtp.NewReply(550, "5.1.1", "No such user")
	}
	return nil
}

// TestHardErrorLimit: the hard_error_limit-th 4xx/5xx reply is followed by
// 421 4.7.0 and the connection is closed. 452 4.5.3 does not count.
func TestHardErrorLimit(t *testing.T) {
	b := newFakeBackend()
	b.rcpt = refuseNobody
	ts := startServer(t, Config{HardErrorLimit: 5, MaxRecipients: 1}, b)
	c := ts.inMail(t)
	c.cmd("RCPT TO:<b@example.net>", 250, "")
	c.cmd("RCPT TO:<c@example.net>", 452, "4.5.3") // over max_recipients: no error
	c.cmd("RSET", 250, "")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	for range 3 {
		c.cmd("RCPT TO:<nobody@example.net>", 550, "5.1.1")
	}
	c.cmd("RCPT TO:<nobody@example.net>", 550, "5.1.1")
	c.cmd("RCPT TO:<nobody@example.net>", 550, "5.1.1")
	c.expect(421, "4.7.0")
	c.expectClosed()
	b.waitClosed(t, 1)

	// Recipients beyond MaxRecipients in one transaction count once they
	// exceed MaxRecipients again (Postfix's smtpd_recipient_overshoot_limit):
	// endless RCPTs cannot hold the session.
	ts2 := startServer(t, Config{HardErrorLimit: 3, MaxRecipients: 2}, newFakeBackend())
	c2 := ts2.inRcpt(t)
	c2.cmd("RCPT TO:<c@example.net>", 250, "")
	for range 2 + 2 {
		c2.cmd("RCPT TO:<d@example.net>", 452, "4.5.3")
	}
	c2.cmd("RCPT TO:<d@example.net>", 452, "4.5.3")
	c2.expect(421, "4.7.0")
	c2.expectClosed()
}

// TestPipeliningClientNeverHitsLimits: a well-behaved pipelining client
// sends many transactions in one session, each with RSET, NOOP and a
// refused recipient; delivering mail resets both counters, so it is never
// cut although it sends more junk and errors than the limits in total.
func TestPipeliningClientNeverHitsLimits(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	b.rcpt = refuseNobody
	ts := startServer(t, Config{JunkCommandLimit: 10, HardErrorLimit: 5}, b)
	c := ts.ehloed(t)
	const messages = 30
	for i := range messages {
		// RFC 2920: DATA ends a group; the message follows the 354.
		c.Write("RSET\r\nNOOP\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<nobody@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
		c.expectReplies("250", "250", "250 2.1.0", "550 5.1.1", "250 2.1.5", "354")
		c.Write(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n.\r\n", i))
		c.expect(250, "")
	}
	c.cmd("QUIT", 221, "")
	if n := len(b.Messages()); n != messages {
		t.Fatalf("%d messages delivered, want %d", n, messages)
	}
}

// TestDataLineTooLong: a message with a header or body line longer than
// max_line_length is read to its end and refused with 552 5.3.4; Data is
// never called and the session goes on. A line of exactly the limit passes.
func TestDataLineTooLong(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{}, b)
	c := ts.ehloed(t)
	for _, msg := range []string{
		"Subject: " + strings.Repeat("h", 20000) + "\r\n\r\nbody\r\n",
		"Subject: long body\r\n\r\n" + strings.Repeat("b", 50000) + "\r\n",
		"Subject: stuffed\r\n\r\n." + strings.Repeat(".", DefaultMaxLineLength-2) + "\r\n",
	} {
		c.toData()
		c.Write(msg + ".\r\n")
		r := c.expect(552, "5.3.4")
		if !strings.Contains(r.Lines[0], "2048") {
			t.Fatalf("reply %q does not name the limit", r.Format())
		}
	}
	if len(b.Messages()) != 0 {
		t.Fatal("Data called for a message with an over-long line")
	}
	c.toData()
	exact := strings.Repeat("e", DefaultMaxLineLength-2) // with CRLF: the limit
	c.Write("Subject: " + strings.Repeat("s", DefaultMaxLineLength-11) + "\r\n\r\n" + exact + "\r\n.\r\n")
	c.expect(250, "")
	if m := b.Messages(); len(m) != 1 || !strings.Contains(string(m[0]), exact+"\r\n") {
		t.Fatal("the message at the limit was not delivered whole")
	}
}
