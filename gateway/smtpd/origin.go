package smtpd

import (
	"context"
	"maps"
)

// Origin is what the server learnt of a transaction's client beyond
// ConnInfo: how it introduced itself and, from an authorized XFORWARD peer
// (Postfix's smtpd_proxy_filter), who the original client was.
type Origin struct {
	Helo  string // argument of the last HELO or EHLO
	Proto string // "ESMTP" after EHLO, "SMTP" after HELO
	// XForward holds the XFORWARD attributes received since the last
	// transaction ended: upper-case names (NAME ADDR PORT PROTO HELO IDENT
	// SOURCE), xtext-decoded values, each checked for its attribute and
	// free of spaces and control characters. Values may be [UNAVAILABLE]
	// (and NAME [TEMPUNAVAIL]), Postfix's words for unknown; ADDR may carry
	// Postfix's "IPV6:" prefix. nil when none were sent.
	XForward map[string]string
}

// OriginSession is a Session that wants its client's Origin. The server
// calls Origin just before each Mail, so a session can tell every
// transaction's client apart, the original one behind a before-queue
// Postfix included.
type OriginSession interface {
	Session
	Origin(ctx context.Context, o Origin)
}

// tellOrigin gives the session the transaction's Origin, if it wants it.
func (c *conn) tellOrigin() {
	s, ok := c.sess.(OriginSession)
	if !ok {
		return
	}
	o := Origin{Helo: c.heloName, Proto: c.proto}
	if len(c.xforward) > 0 {
		o.XForward = maps.Clone(c.xforward)
	}
	s.Origin(c.ctx, o)
}
