package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/deadline"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// smtpConn is one downstream SMTP connection. Calls are serialized; Close
// may come from another goroutine and then aborts the call in flight.
type smtpConn struct {
	cfg *SMTPConfig
	id  Identity // the client this connection serves now; see rebind
	log *slog.Logger
	raw net.Conn // the TCP connection, which closeNet closes
	nc  net.Conn // what is read and written: raw, or a *tls.Conn over it
	br  *bufio.Reader
	bw  *bufio.Writer
	ext map[string]string // EHLO keywords, upper case, with their parameters
	dl  deadline.Lazy     // nc's read and write deadline; see setDeadline

	mu     sync.Mutex // held for the whole of each call
	broken error      // why the connection can no longer be used
	closed bool

	// last is the sanitized 2xx reply that ended the current or last call;
	// each call clears it first. See Conn.LastReply.
	last atomic.Pointer[smtp.Reply]

	closeOnce sync.Once
}

var (
	errUnsolicited = errors.New("unsolicited data after reply")
	errClosed      = errors.New("connection closed")
)

// Replies Sluice gives on the downstream's behalf when a parameter cannot be
// passed on. Forwarding the message without the parameter could corrupt it,
// so the transaction is refused; the sender gets a bounce, not a silent loss
// (docs/TESTPLAN.md rows 27 and 38).
var (
	// RFC 6152 §3 and RFC 3463 X.6.3 "conversion required but not
	// supported": 8-bit content for a 7-bit downstream.
	reply8BitUnsupported = smtp.NewReply(554, "5.6.3", "Downstream does not support 8-bit content")
	// RFC 6531 §3.2 and X.6.7: internationalized mail for a downstream
	// without SMTPUTF8.
	replyUTF8Unsupported = smtp.NewReply(554, "5.6.7", "Downstream does not support SMTPUTF8")
	// RFC 8689 §4.2: REQUIRETLS cannot be honoured by this hop.
	replyRequireTLS = smtp.NewReply(550, "5.7.30", "REQUIRETLS support required")
	// A control character in an address or parameter would split the command.
	replyBadChars = smtp.NewReply(501, "5.5.2", "Invalid characters in command")
)

// Mail sends MAIL FROM (RFC 5321 §4.1.1.2) with the parameters the
// downstream advertised support for; see mailParams.
func (c *smtpConn) Mail(ctx context.Context, from, params string) error {
	c.last.Store(nil)
	line, refuse := c.mailLine(from, params)
	if refuse != nil {
		return refuse
	}
	if c.sendsXForward() {
		return c.mailWithXForward(ctx, line)
	}
	return c.command(ctx, line)
}

// mailLine renders MAIL FROM with the parameters the downstream takes, or
// the reply that refuses the transaction without a word to the server.
func (c *smtpConn) mailLine(from, params string) (string, *smtp.Reply) {
	if !cleanArg(from) || !cleanArg(params) {
		return "", replyBadChars
	}
	p, refuse := c.mailParams(params)
	if refuse != nil {
		return "", refuse
	}
	return "MAIL FROM:<" + from + ">" + p, nil
}

// Rcpt sends RCPT TO (RFC 5321 §4.1.1.3). Only the DSN parameters (RFC 3461
// §4) are passed on, and only to a server that advertised DSN.
func (c *smtpConn) Rcpt(ctx context.Context, to, params string) error {
	c.last.Store(nil)
	line, refuse := c.rcptLine(to, params)
	if refuse != nil {
		return refuse
	}
	return c.command(ctx, line)
}

// rcptLine renders RCPT TO with the parameters the downstream takes, or the
// reply that refuses the recipient without a word to the server.
func (c *smtpConn) rcptLine(to, params string) (string, *smtp.Reply) {
	if !cleanArg(to) || !cleanArg(params) {
		return "", replyBadChars
	}
	var b strings.Builder
	for _, p := range strings.Fields(params) {
		key, _, _ := strings.Cut(p, "=")
		switch strings.ToUpper(key) {
		case "NOTIFY", "ORCPT":
			if c.has("DSN") {
				b.WriteString(" " + p)
				continue
			}
		}
		c.log.Debug("upstream: RCPT parameter not passed on", "param", key)
	}
	return "RCPT TO:<" + to + ">" + b.String(), nil
}

// Reset sends RSET (RFC 5321 §4.1.1.5).
func (c *smtpConn) Reset(ctx context.Context) error {
	c.last.Store(nil)
	return c.command(ctx, "RSET")
}

// Data sends DATA, waits for 354, streams msg dot-stuffed and waits up to the
// data timeout for the final reply (RFC 5321 §4.1.1.4). If the message cannot
// be written completely, the connection is dropped without the terminating
// dot, so the downstream discards the partial message.
func (c *smtpConn) Data(ctx context.Context, msg io.WriterTo) error {
	c.last.Store(nil)
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	r, err := c.exchange(ctx, c.cfg.CommandTimeout, "DATA")
	if err != nil {
		return err
	}
	if r.Code != 354 {
		if r.Class() == 2 {
			return c.lost(ctx, fmt.Errorf("DATA answered %d instead of 354", r.Code))
		}
		return c.result(ctx, r)
	}
	c.setDeadline(ctx, c.cfg.DataTimeout)
	dw := smtp.NewDotWriter(c.bw)
	if _, err := msg.WriteTo(dw); err != nil {
		return c.lost(ctx, fmt.Errorf("writing message: %w", err))
	}
	if err := dw.Close(); err != nil {
		return c.lost(ctx, fmt.Errorf("writing message: %w", err))
	}
	if err := c.bw.Flush(); err != nil {
		return c.lost(ctx, fmt.Errorf("writing message: %w", err))
	}
	c.setDeadline(ctx, c.cfg.DataTimeout)
	r, err = c.readReply(ctx)
	if err != nil {
		return err
	}
	return c.result(ctx, r)
}

// LastReply returns the 2xx reply that ended the last call, or nil.
func (c *smtpConn) LastReply() *smtp.Reply { return c.last.Load() }

// Close sends QUIT (RFC 5321 §4.1.1.10) if the connection is healthy, waits
// briefly for the reply, and closes. It may be called more than once, and
// from another goroutine while a call is in flight, which it then aborts.
func (c *smtpConn) Close() error {
	if !c.mu.TryLock() {
		c.closeNet()
		return nil
	}
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.broken == nil {
		t := min(c.cfg.CommandTimeout, quitTimeout)
		_ = c.nc.SetDeadline(time.Now().Add(t))
		if c.writeLine("QUIT") == nil {
			_, _ = smtp.ReadReply(c.br)
		}
		if tc, ok := c.nc.(*tls.Conn); ok {
			_ = tc.CloseWrite() // close_notify (RFC 8446 §6.1)
		}
		c.broken = errClosed
	}
	c.closeNet()
	return nil
}

// command sends one command line and maps its reply.
func (c *smtpConn) command(ctx context.Context, line string) error {
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	r, err := c.exchange(ctx, c.cfg.CommandTimeout, line)
	if err != nil {
		return err
	}
	return c.result(ctx, r)
}

// result maps a reply: 2xx is success, kept sanitized for LastReply; 4xx
// and 5xx come back sanitized (a 421 also ends the connection, RFC 5321
// §3.8); anything else is a protocol error that loses the connection.
func (c *smtpConn) result(ctx context.Context, r *smtp.Reply) error {
	switch r.Class() {
	case 2:
		c.last.Store(r.Sanitized())
		return nil
	case 4, 5:
		if r.Code == 421 {
			c.log.Info("upstream closing connection", "code", r.Code)
			c.broken = errors.New("downstream answered 421")
			c.closeNet()
		}
		return r.Sanitized()
	}
	return c.lost(ctx, fmt.Errorf("unexpected reply code %d", r.Code))
}

// begin takes the connection for one exchange: it locks it, checks that
// it is usable and closes it if ctx ends before end is called.
func (c *smtpConn) begin(ctx context.Context) (end func(), err error) {
	c.mu.Lock()
	if err := c.usable(ctx); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	stop := c.watch(ctx)
	return func() {
		stop()
		c.mu.Unlock()
	}, nil
}

// usable fails fast, without writing, on a lost connection or a finished ctx.
func (c *smtpConn) usable(ctx context.Context) error {
	if c.broken != nil {
		return fmt.Errorf("upstream connection unusable: %w", c.broken)
	}
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	return nil
}

// exchange writes one command and reads its reply, within timeout.
func (c *smtpConn) exchange(ctx context.Context, timeout time.Duration, line string) (*smtp.Reply, error) {
	c.setDeadline(ctx, timeout)
	if err := c.writeLine(line); err != nil {
		return nil, c.lost(ctx, err)
	}
	return c.readReply(ctx)
}

func (c *smtpConn) writeLine(line string) error {
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return c.bw.Flush()
}

// readReply reads one bounded reply to a command sent alone, so bytes
// already waiting behind the reply were not asked for: the dialogue is out
// of step and the connection cannot be trusted (docs/TESTPLAN.md rows 16 and
// 47). Pipeline (pipeline.go) reads the replies of a batch with the same
// check after the last one only.
func (c *smtpConn) readReply(ctx context.Context) (*smtp.Reply, error) {
	r, err := smtp.ReadReply(c.br)
	if err != nil {
		return nil, c.lost(ctx, err)
	}
	if c.br.Buffered() > 0 {
		return nil, c.lost(ctx, errUnsolicited)
	}
	return r, nil
}

// setDeadline bounds the next reads and writes by d, or by ctx's deadline
// when that comes first. The deadline moves only when it must
// (gateway/internal/deadline): it may stand up to d/64 early.
func (c *smtpConn) setDeadline(ctx context.Context, d time.Duration) {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	_ = c.dl.Set(t, d/deadline.SlackDivisor)
}

// watch closes the connection if ctx ends during a call. The returned stop
// function marks the connection broken if that happened.
func (c *smtpConn) watch(ctx context.Context) (stop func()) {
	unwatch := context.AfterFunc(ctx, c.closeNet)
	return func() {
		if !unwatch() && c.broken == nil {
			c.broken = fmt.Errorf("call cancelled: %w", context.Cause(ctx))
		}
	}
}

// lost marks the connection broken after an I/O or protocol error, closes it
// and returns the error to give the caller. It is never a *smtp.Reply.
func (c *smtpConn) lost(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if dl, ok := ctx.Deadline(); ok && cause == nil && !time.Now().Before(dl) {
		// The I/O deadline taken from ctx fired before ctx's own timer.
		cause = context.DeadlineExceeded
	}
	if cause != nil {
		err = fmt.Errorf("%w (%w)", cause, err)
	}
	err = fmt.Errorf("upstream connection lost: %w", err)
	if c.broken == nil {
		c.broken = err
	}
	c.closeNet()
	c.log.Warn("upstream connection lost", "err", err)
	return err
}

func (c *smtpConn) closeNet() {
	c.closeOnce.Do(func() { _ = c.raw.Close() })
}

// has reports whether the server advertised the EHLO keyword kw.
func (c *smtpConn) has(kw string) bool {
	_, ok := c.ext[kw]
	return ok
}

// mailParams keeps the MAIL parameters the downstream understands: SIZE
// (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET and ENVID (RFC
// 3461), AUTH (RFC 4954 §5), REQUIRETLS (RFC 8689), each only if its
// extension was advertised. Parameters the downstream does not know and that
// only add information are dropped; those whose loss could corrupt or
// misdeliver the message refuse the transaction with a reply instead.
func (c *smtpConn) mailParams(params string) (string, *smtp.Reply) {
	var b strings.Builder
	for _, p := range strings.Fields(params) {
		key, val, _ := strings.Cut(p, "=")
		key = strings.ToUpper(key)
		var ext string
		switch key {
		case "SIZE", "SMTPUTF8", "AUTH", "REQUIRETLS":
			ext = key
		case "RET", "ENVID":
			ext = "DSN"
		case "BODY":
			switch strings.ToUpper(val) {
			case "7BIT", "8BITMIME":
				ext = "8BITMIME"
			default: // BINARYMIME needs BDAT, which this client does not send
				return "", reply8BitUnsupported
			}
		}
		if ext != "" && c.has(ext) {
			b.WriteString(" " + p)
			continue
		}
		switch {
		case key == "BODY" && strings.EqualFold(val, "8BITMIME"):
			return "", reply8BitUnsupported
		case key == "SMTPUTF8":
			return "", replyUTF8Unsupported
		case key == "REQUIRETLS":
			return "", replyRequireTLS
		}
		c.log.Debug("upstream: MAIL parameter not passed on", "param", key)
	}
	return b.String(), nil
}

// cleanArg reports whether s can go into a command line: no control
// characters, so no CR or LF that would start a new command.
func cleanArg(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
