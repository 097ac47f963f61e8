package smtpd

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// EarlyTalkerPolicy says what to do with a client that sends bytes before
// the greeting (RFC 5321 §3.1: the client waits for the 220).
type EarlyTalkerPolicy int

const (
	// EarlyTalkerReject answers 554 5.5.1 and closes.
	EarlyTalkerReject EarlyTalkerPolicy = iota
	// EarlyTalkerIgnore greets as usual and reads the early commands after.
	EarlyTalkerIgnore
)

func (p EarlyTalkerPolicy) String() string {
	switch p {
	case EarlyTalkerReject:
		return "reject"
	case EarlyTalkerIgnore:
		return "ignore"
	}
	return "unknown"
}

// Config configures a Server. The zero value is usable: every zero field
// takes the default named in its comment.
type Config struct {
	// Hostname is announced in the greeting and the EHLO reply. Default:
	// os.Hostname(), else "localhost".
	Hostname string
	// MaxMessageSize is the largest message accepted, in bytes, after
	// dot-unstuffing; also advertised as SIZE (RFC 1870). Default 25 MiB.
	MaxMessageSize int64
	// MaxRecipients per transaction; more get 452 4.5.3. Default 1000
	// (Postfix's smtpd_recipient_limit).
	MaxRecipients int
	// MaxLineLength is the longest line, CRLF included, of a command or of
	// the message. A longer command line gets 500 5.5.2 and the connection
	// is closed; a message with a longer line is read to its end and
	// refused with 552 5.3.4. Default 2048 (Postfix's line_length_limit).
	MaxLineLength int
	// CommandTimeout bounds the whole of each command line, from the moment
	// the server waits for it to its CRLF (a client trickling bytes does not
	// extend it), and each read during DATA; also the write timeout.
	// Default 5 minutes (RFC 5321 §4.5.3.2.7).
	CommandTimeout time.Duration
	// DataTimeout bounds the whole reception of one message after 354.
	// Default 10 minutes.
	DataTimeout time.Duration
	// JunkCommandLimit is how many NOOP, RSET, VRFY, HELP, HELO, EHLO and
	// unknown or unimplemented commands a client may send without
	// delivering a message; the next one is answered 421 4.7.0 and the
	// connection closed. Default 100 (Postfix's smtpd_junk_command_limit).
	JunkCommandLimit int
	// HardErrorLimit is how many 4xx and 5xx replies a client may get
	// without delivering a message; the reply that reaches it is followed
	// by 421 4.7.0 and the connection is closed. 452 4.5.3 (too many
	// recipients) does not count for the first MaxRecipients of them in a
	// transaction: the client is told to send those recipients again
	// later. Default 20 (Postfix's smtpd_hard_error_limit).
	HardErrorLimit int
	// HandshakeTimeout bounds the TLS handshake after STARTTLS. Default 30s.
	HandshakeTimeout time.Duration
	// TLSConfig enables STARTTLS (RFC 3207). nil: not offered.
	TLSConfig *tls.Config
	// BareLF is the policy for a bare LF in message data: normalize (the
	// default) or reject. A command line with a bare LF is never executed;
	// under BareLFReject the connection is also closed.
	BareLF smtp.BareLF
	// EarlyTalker is the policy for clients that talk before the greeting.
	// Default EarlyTalkerReject.
	EarlyTalker EarlyTalkerPolicy
	// GreetDelay, with EarlyTalkerReject, is how long to watch for early
	// bytes before greeting. 0 only checks what already arrived.
	GreetDelay time.Duration
	// MaxConnections and MaxConnectionsPerIP cap concurrent connections;
	// beyond them a client gets 421 4.7.0 and is closed. Defaults 1000 and
	// 50.
	MaxConnections      int
	MaxConnectionsPerIP int
	// XForwardPeers are the networks whose clients may send XFORWARD
	// (Postfix XFORWARD_README): Postfix's smtpd_proxy_filter, telling us
	// who its own client was. Only they see XFORWARD in the EHLO reply;
	// anyone else's XFORWARD is refused with 550 5.7.0. Empty: nobody.
	XForwardPeers []netip.Prefix
	// Logger receives structured logs; every session line carries the
	// attribute "session". Default: discard.
	Logger *slog.Logger
}

// Defaults used for zero Config fields.
const (
	DefaultMaxMessageSize   = 25 << 20
	DefaultMaxRecipients    = 1000
	DefaultMaxLineLength    = 2048
	DefaultCommandTimeout   = 5 * time.Minute
	DefaultDataTimeout      = 10 * time.Minute
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultJunkCommandLimit = 100
	DefaultHardErrorLimit   = 20

	DefaultMaxConnections      = 1000
	DefaultMaxConnectionsPerIP = 50
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Hostname == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Hostname = h
		} else {
			c.Hostname = "localhost"
		}
	}
	c.MaxMessageSize = positiveOr(c.MaxMessageSize, DefaultMaxMessageSize)
	c.MaxRecipients = positiveOr(c.MaxRecipients, DefaultMaxRecipients)
	c.MaxLineLength = positiveOr(c.MaxLineLength, DefaultMaxLineLength)
	c.CommandTimeout = positiveOr(c.CommandTimeout, DefaultCommandTimeout)
	c.DataTimeout = positiveOr(c.DataTimeout, DefaultDataTimeout)
	c.JunkCommandLimit = positiveOr(c.JunkCommandLimit, DefaultJunkCommandLimit)
	c.HardErrorLimit = positiveOr(c.HardErrorLimit, DefaultHardErrorLimit)
	c.MaxConnections = positiveOr(c.MaxConnections, DefaultMaxConnections)
	c.MaxConnectionsPerIP = positiveOr(c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	c.HandshakeTimeout = positiveOr(c.HandshakeTimeout, DefaultHandshakeTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// positiveOr returns v, or def when v is 0 or less (a zero field).
func positiveOr[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
