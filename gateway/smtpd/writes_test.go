package smtpd

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// writeCounter counts the writes to the connections its listener accepts.
type writeCounter struct {
	net.Listener
	writes *atomic.Int64
}

func (l writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countedConn{c, l.writes}, nil
}

type countedConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelinedRepliesCoalesced: the replies to a pipelined group (RFC 2920)
// leave in one write, each command still getting its own reply in order, a
// refused RCPT included; sent one at a time, each reply is its own write.
func TestPipelinedRepliesCoalesced(t *testing.T) {
	var writes atomic.Int64
	fb := newFakeBackend()
	fb.data = accept250
	fb.rcpt = func(to string) *smtp.Reply {
		if to == "nobody@example.net" {
			return smtp.NewReply(550, "5.1.1", "No such user")
		}
		return nil
	}
	ts := startServerOn(t, Config{}, fb, fb, func(ln net.Listener) net.Listener { return writeCounter{ln, &writes} })
	c := ts.ehloed(t)

	before := writes.Load()
	c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<nobody@example.net>\r\nDATA\r\n")
	c.expect(250, "2.1.0")
	c.expect(250, "2.1.5")
	c.expect(550, "5.1.1")
	c.expect(354, "")
	if n := writes.Load() - before; n != 1 {
		t.Errorf("pipelined MAIL, 2 RCPT, DATA: %d writes, want 1", n)
	}
	c.Write("x\r\n.\r\n")
	c.expect(250, "")

	before = writes.Load()
	c.cmd("MAIL FROM:<a@example.org>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@example.net>", 250, "2.1.5")
	c.cmd("RCPT TO:<nobody@example.net>", 550, "5.1.1")
	c.cmd("DATA", 354, "")
	if n := writes.Load() - before; n != 4 {
		t.Errorf("the same commands one at a time: %d writes, want 4", n)
	}
}
