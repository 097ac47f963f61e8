package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/deadline"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Buffer sizes per connection: the read buffer sets how much DATA one read
// syscall takes in; 1000 idle connections hold 20 MiB of them.
const (
	readBufferSize  = 16 << 10
	writeBufferSize = 4 << 10
)

// Stop levels set by Shutdown.
const (
	stopNone  = iota
	stopDrain // close when idle between transactions
	stopForce // close now
)

// conn is one client connection. Its fields belong to its goroutine, except
// those under mu, which Shutdown touches.
type conn struct {
	srv      *Server
	cfg      *Config
	raw      net.Conn // the accepted socket: deadlines are set here
	rw       net.Conn // raw, or the TLS connection over it
	br       *bufio.Reader
	bw       *bufio.Writer
	id       string
	remoteIP string
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	started  time.Time

	sess     Session
	settler  Settler // sess, if it can answer MAIL and RCPT later; else nil
	tls      *tls.ConnectionState
	greeted  bool // HELO or EHLO accepted since the start or STARTTLS
	inTx     bool // MAIL accepted
	rcpts    int  // RCPTs accepted in this transaction
	excess   int  // RCPTs refused in this transaction for MaxRecipients
	sizeHint int  // SIZE declared with MAIL, capped
	quit     bool // the client said QUIT: it has nothing more to send
	errors   int  // 4xx and 5xx replies since the last accepted message
	junk     int  // junk commands since the last accepted message
	closing  bool // a reply that ends the connection was queued

	heloName   string            // argument of the last accepted HELO or EHLO
	proto      string            // "ESMTP" after EHLO, "SMTP" after HELO
	xforwardOK bool              // the peer is one of Config.XForwardPeers
	xforward   map[string]string // XFORWARD attributes for the next transaction

	held       []held // replies held back behind one answered Later (pipeline.go)
	heldErrors int    // 4xx and 5xx replies among held

	mu       sync.Mutex
	stopped  int           // stopNone, stopDrain, stopForce
	idle     bool          // waiting for a command outside a transaction
	readIdle time.Duration // deadline for each read
	readHard time.Time     // overall read deadline, zero if none
	readDL   deadline.Lazy // the socket's read deadline (under mu)
	writeDL  deadline.Lazy // its write deadline (the session goroutine's)
}

func newConn(s *Server, nc net.Conn, id, ip string) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		srv:      s,
		cfg:      &s.cfg,
		raw:      nc,
		rw:       nc,
		id:       id,
		remoteIP: ip,
		log:      s.log.With("session", id),
		ctx:      ctx,
		cancel:   cancel,
		started:  time.Now(),
		readIdle: s.cfg.CommandTimeout,
	}
	c.readDL = deadline.New(nc.SetReadDeadline)
	c.writeDL = deadline.New(nc.SetWriteDeadline)
	c.xforwardOK = xforwardAllowed(s.cfg.XForwardPeers, ip)
	if br, ok := s.readers.Get().(*bufio.Reader); ok {
		br.Reset(connReader{c})
		c.br = br
	} else {
		c.br = bufio.NewReaderSize(connReader{c}, readBufferSize)
	}
	if bw, ok := s.writers.Get().(*bufio.Writer); ok {
		bw.Reset(connWriter{c})
		c.bw = bw
	} else {
		c.bw = bufio.NewWriterSize(connWriter{c}, writeBufferSize)
	}
	return c
}

// releaseBuffers gives the buffers back to the Server for later
// connections; nothing reads or writes them after finish.
func (c *conn) releaseBuffers() {
	c.br.Reset(nil)
	c.bw.Reset(nil)
	c.srv.readers.Put(c.br)
	c.srv.writers.Put(c.bw)
	c.br, c.bw = nil, nil
}

// connReader sets the read deadline before every read of the socket, so
// that an idle limit, an overall limit (DATA) and Shutdown all apply. The
// deadline moves only when it must (gateway/internal/deadline): an idle
// limit may end a session up to 1/64 of it early.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	c.mu.Lock()
	var dl time.Time
	if c.stopped == stopForce || (c.stopped == stopDrain && c.idle) {
		dl = time.Unix(1, 0) // in the past: fail now
	} else {
		dl = time.Now().Add(c.readIdle)
		if !c.readHard.IsZero() && c.readHard.Before(dl) {
			dl = c.readHard
		}
	}
	c.readDL.Set(dl, c.readIdle/deadline.SlackDivisor)
	c.mu.Unlock()
	return c.rw.Read(p)
}

// connWriter bounds every write by CommandTimeout.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	w.c.writeDL.After(w.c.cfg.CommandTimeout)
	return w.c.rw.Write(p)
}

// stop is called by Shutdown. A read that should now fail is interrupted.
func (c *conn) stop(level int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if level > c.stopped {
		c.stopped = level
	}
	if c.stopped == stopForce || c.idle {
		c.readDL.Set(time.Unix(1, 0), 0)
	}
	if level == stopForce {
		c.cancel()
	}
}

// setRead sets the deadlines of the next reads; idle marks a wait for a
// command outside a transaction, which a draining Shutdown interrupts.
func (c *conn) setRead(each time.Duration, total time.Time, idle bool) {
	c.mu.Lock()
	c.readIdle, c.readHard, c.idle = each, total, idle
	c.mu.Unlock()
}

// stopLevel returns what Shutdown asked.
func (c *conn) stopLevel() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// serve runs the connection to its end.
func (c *conn) serve() {
	c.log.Info("connection opened", "remote", c.raw.RemoteAddr().String())
	defer c.finish()
	sess, rep := c.srv.backend.NewSession(c.ctx, ConnInfo{ID: c.id, RemoteAddr: c.raw.RemoteAddr(), LocalAddr: c.raw.LocalAddr()})
	if rep != nil || sess == nil {
		if rep == nil {
			rep = replyNoSession
		}
		c.reply(c.checked(rep, replyNoSession))
		return
	}
	c.sess = sess
	c.settler, _ = sess.(Settler)
	if c.earlyTalker() {
		c.log.Warn("early talker rejected")
		c.reply(replyEarlyTalker)
		return
	}
	c.reply(smtp.NewReply(220, "", c.cfg.Hostname+" ESMTP Sluice"))
	for c.next() {
	}
}

// finish runs last: it turns a panic into 421 for this client only
// (docs/TESTPLAN.md row 56), flushes what is queued, ends the session exactly once
// and closes the socket.
func (c *conn) finish() {
	if v := recover(); v != nil {
		c.panicked(v)
	} else {
		func() {
			defer func() {
				if v := recover(); v != nil {
					c.panicked(v)
				}
			}()
			c.settle()
		}()
	}
	c.flush()
	if c.sess != nil {
		func() {
			defer func() {
				if v := recover(); v != nil {
					c.log.Error("panic in Session.Close", "panic", v, "stack", string(debug.Stack()))
				}
			}()
			c.sess.Close()
		}()
	}
	c.cancel()
	c.lingerClose()
	c.releaseBuffers()
	c.log.Info("connection closed", "duration", time.Since(c.started).Round(time.Millisecond))
}

// panicked logs a recovered panic and answers 421; replies held back are
// dropped, the 421 answers them all.
func (c *conn) panicked(v any) {
	c.log.Error("panic in session", "panic", v, "stack", string(debug.Stack()))
	c.held = nil
	c.reply(replyPanic)
}

// next reads and runs one command; false ends the connection.
func (c *conn) next() bool {
	if c.closing {
		return false
	}
	if lvl := c.stopLevel(); lvl == stopForce || (lvl == stopDrain && !c.inTx) {
		c.reply(smtp.ReplyShutdown)
		return false
	}
	// RFC 2920 §3.2: replies to pipelined commands may wait while more
	// commands are buffered; flush before blocking for input.
	if !c.lineBuffered() {
		c.settle()
		if c.closing || !c.flush() {
			return false
		}
	}
	// The deadline covers the whole line: a client trickling one byte at
	// a time does not push it back.
	c.setRead(c.cfg.CommandTimeout, time.Now().Add(c.cfg.CommandTimeout), !c.inTx)
	line, err := smtp.ReadLine(c.br, c.cfg.MaxLineLength)
	c.setRead(c.cfg.CommandTimeout, time.Time{}, false)
	if err != nil {
		return c.lineError(err)
	}
	return c.command(line)
}

// lineBuffered reports whether a whole command line is already buffered.
func (c *conn) lineBuffered() bool {
	n := c.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := c.br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// lineError answers a command line that could not be read.
func (c *conn) lineError(err error) bool {
	switch {
	case errors.Is(err, smtp.ErrLineTooLong):
		c.log.Warn("command line too long")
		c.reply(smtp.ReplyLineTooLong)
		return false
	case smtp.IsFramingError(err):
		// docs/TESTPLAN.md row 7: never executed; the framing cannot be trusted
		// under the reject policy.
		c.log.Warn("bare CR or LF in command line", "err", err)
		if c.cfg.BareLF == smtp.BareLFReject {
			c.reply(smtp.ReplyBareLF)
			return false
		}
		return c.bad(smtp.ReplyBareLF)
	case errors.Is(err, smtp.ErrNUL):
		c.log.Warn("NUL in command line")
		return c.bad(replyNULCommand)
	}
	c.ioError(err)
	return false
}

// ioError answers a failed read: 421 on a timeout or shutdown, nothing when
// the client went away.
func (c *conn) ioError(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if c.stopLevel() != stopNone {
			c.reply(smtp.ReplyShutdown)
			return
		}
		c.log.Info("timeout", "err", err)
		c.reply(smtp.ReplyTimeout)
		return
	}
	if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, net.ErrClosed) {
		c.log.Info("read failed", "err", err)
	}
}

// bad answers a protocol error; reply counts it.
func (c *conn) bad(r *smtp.Reply) bool {
	c.reply(r)
	return !c.closing
}

// junkCommand counts a junk command (Postfix's smtpd_junk_command_limit):
// past Config.JunkCommandLimit it answers 421 and returns false.
func (c *conn) junkCommand() bool {
	c.junk++
	if c.junk > c.cfg.JunkCommandLimit {
		c.log.Warn("too many junk commands", "limit", c.cfg.JunkCommandLimit)
		c.reply(replyTooManyJunk)
		return false
	}
	return true
}

// delivered resets the session limits once a message was accepted, as
// Postfix does: they bound what a client does without delivering mail.
func (c *conn) delivered() {
	c.errors, c.junk = 0, 0
}

// reply queues r, behind the held replies if there are any (pipeline.go).
func (c *conn) reply(r *smtp.Reply) {
	if c.holding() {
		c.hold(held{r: r})
		return
	}
	c.emit(r)
}

// emit writes r to the output buffer; a 421 ends the connection (RFC 5321
// §3.8). Every other 4xx or 5xx counts towards Config.HardErrorLimit: the
// one that reaches it is followed by 421 (Postfix's smtpd_hard_error_limit).
func (c *conn) emit(r *smtp.Reply) {
	c.bw.WriteString(r.Format())
	switch {
	case r.Code == 421:
		c.closing = true
	case r.Code >= 400 && !c.closing && !(isTooManyRcpts(r) && c.excess <= c.cfg.MaxRecipients):
		c.errors++
		if c.errors >= c.cfg.HardErrorLimit {
			c.log.Warn("too many errors", "limit", c.cfg.HardErrorLimit)
			c.bw.WriteString(replyTooManyErrors.Format())
			c.closing = true
		}
	}
}

// isTooManyRcpts reports the 452 4.5.3 of RFC 5321 §4.5.3.1.10: the client
// is told to send the remaining recipients in a later transaction, which
// is not an error, up to MaxRecipients of them per transaction (Postfix's
// smtpd_recipient_overshoot_limit); past that they count.
func isTooManyRcpts(r *smtp.Reply) bool {
	return r.Code == 452 && r.Enhanced == "4.5.3"
}

// flush sends the queued replies.
func (c *conn) flush() bool {
	if err := c.bw.Flush(); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			c.log.Info("write failed", "err", err)
		}
		return false
	}
	return true
}

// checked makes a reply from the Backend or Session safe to send: nil gives
// def, text is sanitized, and a code that is not 2xx, 4xx or 5xx becomes
// 451 4.3.0 (a 3xx would confuse the client's state).
func (c *conn) checked(r, def *smtp.Reply) *smtp.Reply {
	if r == nil {
		return def
	}
	s := r.Sanitized()
	if s.Code < 200 || s.Code > 599 || s.Class() == 3 {
		c.log.Error("session returned an invalid reply code", "code", r.Code)
		return smtp.ReplyInternal
	}
	return s
}

// resetTx ends the transaction and tells the session.
func (c *conn) resetTx() {
	c.inTx, c.rcpts, c.excess, c.sizeHint = false, 0, 0, 0
	c.xforward = nil // Postfix forgets XFORWARD attributes with the transaction
	c.sess.Reset()
}

// Lingering after the last reply (lingerTime at most, lingerBytes of
// input at most).
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 10
)

// lingerClose closes the socket so that the last reply arrives. Closing a
// TCP socket with unread input (a client that pipelined past a refusal, a
// 421 or a 554 greeting) makes the kernel send a reset, and the client may
// lose the reply still in flight. So, unless the client said QUIT, the
// write side is shut down first (the client reads the reply and EOF) and
// what the client still sends is read and discarded, bounded in time and
// bytes, before the close.
func (c *conn) lingerClose() {
	tcp, ok := c.raw.(interface{ CloseWrite() error })
	if c.quit || !ok || tcp.CloseWrite() != nil {
		c.raw.Close()
		return
	}
	c.raw.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.raw, lingerBytes)
	c.raw.Close()
}
