// Package smtpd is Sluice's inbound SMTP server: a strict RFC 5321 protocol
// engine (framing, pipelining, limits, STARTTLS) that asks a Backend what to
// answer at each phase. It knows nothing of plugins or upstreams.
package smtpd

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// ConnInfo describes a new client connection.
type ConnInfo struct {
	ID         string // session id, unique per process, used in every log line
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// Backend starts sessions. It is called once per accepted connection, before
// the greeting.
type Backend interface {
	// NewSession returns the session, or a reply (4xx/5xx) with which the
	// server greets and closes the connection instead.
	NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply)
}

// Session receives the client's commands once the server has checked their
// syntax and state. A nil reply means the server's default success reply,
// except for Data, where nil means 451 4.3.0: a message is accepted only by an
// explicit 2xx reply. ctx is cancelled when the connection ends.
type Session interface {
	// Helo is called for HELO and EHLO (again after STARTTLS). tls is nil on
	// a plaintext connection.
	Helo(ctx context.Context, name string, tls *tls.ConnectionState) *smtp.Reply
	// Mail starts a transaction. from has no angle brackets ("" = null
	// sender); params are the ESMTP parameters as sent, already validated.
	Mail(ctx context.Context, from string, params string) *smtp.Reply
	// Rcpt adds a recipient.
	Rcpt(ctx context.Context, to string, params string) *smtp.Reply
	// Data receives the whole message, dot-unstuffed, with CRLF line
	// endings, and returns the final reply.
	Data(ctx context.Context, msg []byte) *smtp.Reply
	// Reset ends the current transaction (RSET, a new EHLO, STARTTLS, or
	// after Data).
	Reset()
	// Close ends the session (QUIT, connection loss, timeout or shutdown).
	Close()
}
