// Package scan is the host's client for the content scanners operators
// already run: rspamd (HTTP /checkv2), ClamAV's clamd (INSTREAM) and
// SpamAssassin's spamd (SPAMC/SPAMD). A scanner sends one message with its
// envelope and returns a Result; a plugin decides what the result means.
//
// Failures are typed (ErrUnreachable, ErrTimeout, ErrProtocol) so that the
// host can give the plugin a TEMPERROR rather than a trap; a message over the
// scanner's max_size is not an error but a Result with Skipped set.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Envelope is what the scanner is told besides the message: the facts rspamd
// takes as HTTP headers (IP, Helo, From, Rcpt, Hostname, Queue-Id, User).
// Other empty members are not sent.
type Envelope struct {
	ClientIP string // the SMTP client's address, without port
	Helo     string // the name it gave in HELO/EHLO
	// Sender is MAIL FROM without angle brackets; "" is the null sender
	// <>, which rspamd is sent as "<>" (as milters pass it) when the
	// envelope has recipients, that is, a transaction.
	Sender     string
	Recipients []string // RCPT TO, without angle brackets
	Hostname   string   // the client's verified host name, when known
	QueueID    string   // the transaction's id, for the scanner's logs
	User       string   // the authenticated (SMTP AUTH) user, when known
}

// Message is the message a scanner sends: its exact size in bytes and a
// writer of its bytes. WriteTo may be called more than once (a retry on a
// fresh connection), so *message.Message is sent without a copy.
type Message interface {
	Size() int
	WriteTo(w io.Writer) (int64, error)
}

// Bytes is a Message held in one slice.
type Bytes []byte

// Size implements Message.
func (b Bytes) Size() int { return len(b) }

// WriteTo implements Message.
func (b Bytes) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

// Scanner runs one engine. It is safe for concurrent use.
type Scanner interface {
	// Scan sends msg with env and returns the engine's verdict. The scan
	// ends at the earlier of ctx's deadline and the scanner's timeout.
	// Errors wrap ErrUnreachable, ErrTimeout or ErrProtocol.
	Scan(ctx context.Context, env Envelope, msg Message) (*Result, error)
	// Close releases idle connections.
	Close() error
}

// The kinds of scan failure; test with errors.Is.
var (
	// ErrUnreachable: the scanner could not be connected to, or the
	// connection broke before a complete reply (the daemon is down or
	// was restarted).
	ErrUnreachable = errors.New("scanner unreachable")
	// ErrTimeout: the deadline (the scanner's timeout or the caller's)
	// passed before a complete reply.
	ErrTimeout = errors.New("scanner timed out")
	// ErrProtocol: the scanner answered something that is not a reply of
	// its protocol, or an error reply.
	ErrProtocol = errors.New("scanner protocol error")
)

// Error is a failed scan: which scanner, which kind, and the cause.
type Error struct {
	Scanner string // the policy's name for it
	Engine  string // EngineRspamd, EngineClamd or EngineSpamd
	Kind    error  // ErrUnreachable, ErrTimeout or ErrProtocol
	Err     error  // the cause
}

func (e *Error) Error() string {
	return fmt.Sprintf("scanner %q (%s): %v: %v", e.Scanner, e.Engine, e.Kind, e.Err)
}

// Unwrap returns the kind and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// Engines.
const (
	EngineRspamd = "rspamd"
	EngineClamd  = "clamd"
	EngineSpamd  = "spamd"
)

// Defaults.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxConns = 16
)

// Config is one scanner "NAME" block, decoded.
type Config struct {
	Name    string
	Engine  string // EngineRspamd, EngineClamd or EngineSpamd
	Address string // rspamd: http(s) URL; clamd: tcp://host:port or unix:/path; spamd: tcp://host:port or unix:/path
	// Timeout bounds one scan, connecting included; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxSize: a larger message is not sent; the Result says Skipped
	// "too large". 0 means no limit.
	MaxSize int64
	// Password is sent to rspamd in the Password header; "" sends none.
	Password string
	// MaxConns bounds the connections open to the scanner at once; 0
	// means DefaultMaxConns. Scans beyond it wait (within their deadline).
	MaxConns int
	// User is the spamd User header (whose preferences apply); "" sends none.
	User string
}

// New returns the scanner c describes.
func New(c Config) (Scanner, error) {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	switch c.Engine {
	case EngineRspamd:
		return newRspamd(c)
	case EngineClamd:
		return newClamd(c)
	case EngineSpamd:
		return newSpamd(c)
	}
	return nil, fmt.Errorf("unknown scanner engine %q", c.Engine)
}

// SkippedTooLarge is Result.Skipped for a message over max_size, or over
// the daemon's own limit (clamd's StreamMaxLength).
const SkippedTooLarge = "too large"

// tooLarge is the result for a message not sent because of its size.
func tooLarge(c *Config) *Result {
	return &Result{Engine: c.Engine, Skipped: SkippedTooLarge}
}

// fail wraps err as the scanner's error of the kind classify gives it.
func (c *Config) fail(ctx context.Context, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return &Error{Scanner: c.Name, Engine: c.Engine, Kind: classify(ctx, err), Err: err}
}

// protocolError is a reply that makes no sense.
func (c *Config) protocolError(format string, args ...any) error {
	return &Error{Scanner: c.Name, Engine: c.Engine, Kind: ErrProtocol, Err: fmt.Errorf(format, args...)}
}

// classify tells a timeout (ours or the caller's) from a refused, broken or
// closed connection, and both from a reply that is not of the protocol
// (such as net/http's "malformed HTTP response").
func classify(ctx context.Context, err error) error {
	var ne net.Error
	var oe *net.OpError
	switch {
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.As(err, &oe), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED):
		return ErrUnreachable
	case strings.Contains(err.Error(), "server closed idle connection"):
		// net/http's error for a connection closed before any reply,
		// which it does not export.
		return ErrUnreachable
	}
	return ErrProtocol
}

// dialer connects to "tcp://host:port" or "unix:/path", at most max at once.
type dialer struct {
	network, addr string
	slots         chan struct{}
}

// parseStreamAddress parses clamd's and spamd's address forms.
func parseStreamAddress(s string) (network, addr string, err error) {
	if rest, ok := cutPrefix(s, "tcp://"); ok {
		host, port, err := net.SplitHostPort(rest)
		if err != nil || host == "" || port == "" {
			return "", "", fmt.Errorf("%q is not tcp://host:port", s)
		}
		return "tcp", rest, nil
	}
	if rest, ok := cutPrefix(s, "unix:"); ok {
		rest, _ = cutPrefix(rest, "//")
		if rest == "" || rest[0] != '/' {
			return "", "", fmt.Errorf("%q is not unix:/absolute/path", s)
		}
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("%q is neither tcp://host:port nor unix:/path", s)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

func newDialer(address string, max int) (*dialer, error) {
	network, addr, err := parseStreamAddress(address)
	if err != nil {
		return nil, err
	}
	return &dialer{network: network, addr: addr, slots: make(chan struct{}, max)}, nil
}

// dial waits for a slot and connects; the connection's deadline is ctx's.
// release must be called when the connection is closed.
func (d *dialer) dial(ctx context.Context) (conn net.Conn, release func(), err error) {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	free := func() { <-d.slots }
	var nd net.Dialer
	conn, err = nd.DialContext(ctx, d.network, d.addr)
	if err != nil {
		free()
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A cancelled (not only expired) context ends the exchange too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, func() { stop(); free() }, nil
}
