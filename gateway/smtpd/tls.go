package smtpd

import (
	"context"
	"crypto/tls"
	"time"
)

// startTLS handles STARTTLS (RFC 3207 §4). false ends the connection.
func (c *conn) startTLS(arg string) bool {
	switch {
	case arg != "":
		return c.bad(syntax("STARTTLS"))
	case c.cfg.TLSConfig == nil:
		return c.bad(replyNotImpl)
	case c.tls != nil:
		return c.bad(replyTLSActive)
	}
	c.reply(replyStartTLS)
	if !c.flush() {
		return false
	}
	// CVE-2011-0411, docs/TESTPLAN.md row 13: whatever the client pipelined after
	// STARTTLS arrived in plaintext and must never be executed. The
	// handshake reads the socket directly, so dropping our buffer drops it.
	if n := c.br.Buffered(); n > 0 {
		c.log.Warn("discarded plaintext pipelined after STARTTLS", "bytes", n)
	}
	c.br.Reset(connReader{c})

	tc := tls.Server(c.raw, c.cfg.TLSConfig)
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	c.raw.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	err := tc.HandshakeContext(ctx)
	c.raw.SetDeadline(time.Time{})
	c.mu.Lock()
	c.readDL.Forget()
	c.mu.Unlock()
	c.writeDL.Forget()
	if err != nil {
		c.log.Info("TLS handshake failed", "err", err)
		return false
	}
	state := tc.ConnectionState()
	c.rw, c.tls = tc, &state
	c.bw.Reset(connWriter{c})
	c.log.Info("TLS started", "version", tls.VersionName(state.Version), "cipher", tls.CipherSuiteName(state.CipherSuite))
	// RFC 3207 §4.2: forget everything learnt before; EHLO is required again.
	c.greeted = false
	c.resetTx()
	return true
}
