package smtpd

import (
	"net"
	"time"
)

// earlyTalker reports whether the client sent bytes before the greeting
// (docs/TESTPLAN.md row 12) under EarlyTalkerReject. With a GreetDelay it watches
// that long; without, it only looks at what already arrived, without
// blocking.
func (c *conn) earlyTalker() bool {
	if c.cfg.EarlyTalker != EarlyTalkerReject {
		return false
	}
	if c.cfg.GreetDelay <= 0 {
		return bufferedInput(c.raw) || pendingInput(c.raw)
	}
	c.setRead(c.cfg.GreetDelay, time.Now().Add(c.cfg.GreetDelay), true)
	_, err := c.br.Peek(1)
	c.setRead(c.cfg.CommandTimeout, time.Time{}, false)
	// A timeout means silence, as it should be; EOF will be seen again by
	// the first command read.
	return err == nil
}

// bufferedInput reports whether a wrapping connection holds bytes it read
// from the socket ahead of us: behind the PROXY protocol, what followed the
// header in the same packet (gateway/proxyprotocol).
func bufferedInput(nc net.Conn) bool {
	b, ok := nc.(interface{ Buffered() int })
	return ok && b.Buffered() > 0
}
