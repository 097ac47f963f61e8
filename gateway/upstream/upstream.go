// Package upstream delivers accepted transactions downstream: to an SMTP
// server (Postfix) in step with the client, or to a local Maildir.
package upstream

import (
	"context"
	"errors"
	"io"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Identity is the real client, for logs and for XCLIENT and XFORWARD (see
// SMTPConfig). Unknown fields are zero; they reach the downstream server as
// [UNAVAILABLE].
type Identity struct {
	SessionID  string
	ClientIP   string // numeric address
	ClientPort int    // 0 when unknown
	ClientName string // verified reverse DNS name, "" when unknown
	Helo       string // name the client gave with HELO or EHLO
	Proto      string // "ESMTP" after EHLO, "SMTP" after HELO
	// Forwarded holds the XFORWARD attributes an authorized peer (Postfix's
	// smtpd_proxy_filter) sent for the current transaction: upper-case
	// names, decoded, validated values. With XForward on they are passed on
	// as received, over the values derived from the fields above; IDENT and
	// SOURCE exist only here. nil when none.
	Forwarded map[string]string
}

// Upstream opens downstream connections.
type Upstream interface {
	Open(ctx context.Context, id Identity) (Conn, error)
}

// Conn is one downstream connection that carries transactions one after the
// other. Methods return nil on a 2xx reply, a *smtp.Reply for any other
// reply (already sanitized), or another error when the connection failed:
// that error wraps ErrUnreachable when the server could not be reached or
// greeted, else the connection is lost and must be closed.
type Conn interface {
	Mail(ctx context.Context, from, params string) error
	Rcpt(ctx context.Context, to, params string) error
	// Data sends DATA, then the message dot-stuffed with CRLF line endings,
	// then the final dot, and waits for the reply. nil means the downstream
	// server answered 250: only then may the client be told so.
	Data(ctx context.Context, msg io.WriterTo) error
	Reset(ctx context.Context) error
	// LastReply returns the 2xx reply that ended the most recent call of
	// Mail, Rcpt, Data or Reset, sanitized like a refusal, or nil when that
	// call failed or none was made. After a successful Data it carries what
	// the downstream said of the accepted message, such as Postfix's
	// "250 2.0.0 Ok: queued as 4XyZ123": the queue id to log (docs/TESTPLAN.md row
	// 35). Its text is the downstream's; it is not for the client.
	LastReply() *smtp.Reply
	// Close sends QUIT if the connection is healthy, then closes it.
	Close() error
}

// ErrUnreachable marks errors of a downstream server that could not be
// reached or did not greet.
var ErrUnreachable = errors.New("downstream unreachable")
