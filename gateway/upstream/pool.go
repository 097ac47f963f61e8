package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Pool defaults.
const (
	DefaultPoolMaxIdle     = 64
	DefaultPoolIdleTimeout = 30 * time.Second
)

// poolResetTimeout bounds the RSET that cleans a connection returned to the
// pool in the middle of a transaction.
const poolResetTimeout = 2 * time.Second

// PoolOptions configures a Pool.
type PoolOptions struct {
	// MaxIdle bounds the connections kept open between sessions;
	// DefaultPoolMaxIdle when 0 or less. A connection given back to a full
	// pool is closed.
	MaxIdle int
	// IdleTimeout is how long a connection may stay idle and still be
	// reused; DefaultPoolIdleTimeout when 0 or less. It must stay below the
	// downstream server's own idle limit (Postfix's smtpd_timeout), after
	// which the server closes the connection (RFC 5321 §4.5.3.2.7). Idle
	// connections older than this are closed in the background.
	IdleTimeout time.Duration
	Logger      *slog.Logger // nil discards
}

// Pool keeps downstream connections open between client sessions so that a
// new session skips the connect, greeting and EHLO (docs/DESIGN.md §6). It wraps
// another Upstream, normally *SMTP, and is safe for concurrent use.
//
// A connection goes back to the pool only when it is healthy and outside a
// transaction (RFC 5321 §4.1.4): the wrapper Conn closes it instead after any
// error other than a reply, or after a 421, and sends RSET first when a
// transaction was left open. Connections are reused most recent first.
//
// Identity: the pool hands any idle connection to any session, which is right
// only while a downstream connection carries nothing of the client beyond a
// transaction. XFORWARD is per transaction (the server forgets it after each
// one) and is sent from the identity of the session that holds the
// connection now, so XFORWARD connections are pooled. XCLIENT ties a
// connection to one client for its whole life; the pool is bypassed for an
// Upstream that uses it (SMTPConfig.XClient): every session opens its own
// connection and closes it. Keying idle connections by identity instead
// would almost never hit, since the tuple includes the client's source
// port, and re-sending XCLIENT on a reused connection saves only the TCP
// handshake while depending on the server resetting every attribute.
type Pool struct {
	u    Upstream
	opts PoolOptions
	log  *slog.Logger
	now  func() time.Time // the clock; tests replace it

	mu     sync.Mutex
	idle   []idleConn  // oldest first; reused from the end
	timer  *time.Timer // closes expired idle connections; nil when idle is empty
	closed bool
}

type idleConn struct {
	c     Conn
	since time.Time
}

var (
	_ Upstream  = (*Pool)(nil)
	_ io.Closer = (*Pool)(nil)
)

// NewPool returns a pool of connections opened through u.
func NewPool(u Upstream, opts PoolOptions) *Pool {
	opts.MaxIdle = positiveOr(opts.MaxIdle, DefaultPoolMaxIdle)
	opts.IdleTimeout = positiveOr(opts.IdleTimeout, DefaultPoolIdleTimeout)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pool{u: u, opts: opts, log: opts.Logger, now: time.Now}
}

// Open returns a connection: the most recently idle one if it has been idle
// for less than IdleTimeout, else a new one from the wrapped Upstream. Its
// Close gives it back to the pool. After Pool.Close, Open still works but
// bypasses the pool: every connection is new and is really closed by Close.
func (p *Pool) Open(ctx context.Context, id Identity) (Conn, error) {
	if b, ok := p.u.(identityBinder); ok && b.identityBound() {
		return p.u.Open(ctx, id)
	}
	if ic, ok := p.take(); ok {
		if r, ok := ic.c.(rebinder); ok {
			r.rebind(id)
		}
		p.log.Debug("upstream connection reused", "session", id.SessionID)
		return &pooledConn{p: p, id: id, c: ic.c, active: ic.since, reused: true, first: true}, nil
	}
	c, err := p.u.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	return &pooledConn{p: p, id: id, c: c, active: p.now(), first: true}, nil
}

// Close closes the idle connections and stops pooling: connections in use
// are closed, not pooled, when their sessions end. Open keeps working
// without the pool. Close always returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.mu.Unlock()
	closeAll(idle)
	return nil
}

// take removes and returns the most recent idle connection that is still
// fresh, or ok false. Stale ones found on the way are closed in the
// background, so that the session does not wait for their QUIT.
func (p *Pool) take() (ic idleConn, ok bool) {
	p.mu.Lock()
	stale := p.expireLocked()
	if n := len(p.idle); n > 0 {
		ic, ok = p.idle[n-1], true
		p.idle[n-1] = idleConn{}
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if len(stale) > 0 {
		go closeAll(stale)
	}
	return ic, ok
}

// put gives back a clean connection on which the last command was sent at
// since, or closes it when the pool is full or closed.
func (p *Pool) put(c Conn, since time.Time) {
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.opts.MaxIdle {
		p.mu.Unlock()
		_ = c.Close()
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: since})
	if p.timer == nil {
		p.timer = time.AfterFunc(p.opts.IdleTimeout, p.sweep)
	}
	p.mu.Unlock()
}

// sweep closes the expired idle connections, so that neither side keeps a
// socket (and Postfix an smtpd process) for a connection nobody will reuse,
// and schedules itself for the next expiry.
func (p *Pool) sweep() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	stale := p.expireLocked()
	if len(p.idle) == 0 {
		p.timer = nil
	} else if p.timer != nil {
		next := p.idle[0].since.Add(p.opts.IdleTimeout).Sub(p.now())
		p.timer.Reset(max(next, time.Millisecond))
	}
	p.mu.Unlock()
	closeAll(stale)
}

// expireLocked removes the connections idle for IdleTimeout or longer and
// returns them, to be closed without the lock.
func (p *Pool) expireLocked() []idleConn {
	now := p.now()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].since) >= p.opts.IdleTimeout {
		n++
	}
	if n == 0 {
		return nil
	}
	stale := append([]idleConn(nil), p.idle[:n]...)
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	return stale
}

// closeAll closes connections in parallel: each Close may wait a few seconds
// for the reply to QUIT from a server that went silent.
func closeAll(conns []idleConn) {
	var wg sync.WaitGroup
	for _, ic := range conns {
		wg.Go(func() { _ = ic.c.Close() })
	}
	wg.Wait()
}

// identityBinder is an Upstream whose connections may carry one client's
// identity for their whole life (XCLIENT); they must not be pooled.
type identityBinder interface{ identityBound() bool }

// rebinder is a Conn that can serve another session after being pooled.
type rebinder interface{ rebind(Identity) }

// errNoConn is returned by a pooledConn whose connection is gone.
var errNoConn = errors.New("upstream connection unusable: no connection")

// pooledConn is the Conn a Pool hands out. It follows the state of the
// dialogue to decide, at Close, whether the connection can serve another
// session. Like any Conn it is used by one goroutine at a time.
type pooledConn struct {
	p  *Pool
	id Identity
	c  Conn // nil once closed, or when the retry of a stale connection failed

	// active is when the server last heard from us on c: its idle timer
	// runs from there, however long c spent in the pool or in this wrapper.
	active time.Time

	reused bool // c came from the pool
	first  bool // no command has been sent on c yet
	txn    bool // a transaction may be open downstream
	broken bool // c must not be reused
}

// Mail starts a transaction. On a reused connection, it is the first command
// in a while, and the server may have closed the connection meanwhile: an
// error that is not a reply, or a 421 (which Postfix sends before closing an
// idle connection, RFC 5321 §3.8), then means the connection was stale, not
// that this transaction failed. Nothing of the transaction has reached the
// server, so MAIL is retried once on a new connection. No other command is
// ever retried.
func (w *pooledConn) Mail(ctx context.Context, from, params string) error {
	if w.c == nil {
		return errNoConn
	}
	retry := w.reused && w.first
	w.first = false
	err := w.c.Mail(ctx, from, params)
	if retry && isStale(err) && ctx.Err() == nil {
		if oerr := w.reopen(ctx, err); oerr != nil {
			return oerr
		}
		err = w.c.Mail(ctx, from, params)
	}
	w.note(err)
	if err == nil {
		w.txn = true
	}
	return err
}

// reopen replaces a stale reused connection, whose first command failed
// with err, by a new one.
func (w *pooledConn) reopen(ctx context.Context, err error) error {
	w.p.log.Info("pooled upstream connection was stale; reconnecting", "session", w.id.SessionID, "err", err)
	_ = w.c.Close()
	w.c, w.reused = nil, false
	c, oerr := w.p.u.Open(ctx, w.id)
	if oerr != nil {
		w.broken = true
		return oerr
	}
	w.c, w.active = c, w.p.now()
	return nil
}

// Pipelining is that of the wrapped connection.
func (w *pooledConn) Pipelining() bool {
	p, ok := w.c.(Pipeliner)
	return ok && p.Pipelining()
}

// Pipeline sends a batch on the wrapped connection, or one command at a
// time if it cannot pipeline. A batch that starts with MAIL on a reused
// connection is retried once on a new connection, like Mail: the stale
// connection got no DATA, so nothing of the transaction can be delivered
// twice.
func (w *pooledConn) Pipeline(ctx context.Context, cmds []Command) []error {
	if w.c == nil || len(cmds) == 0 {
		return fill(make([]error, len(cmds)), errNoConn)
	}
	retry := w.reused && w.first && !cmds[0].Rcpt
	w.first = false
	errs := w.pipeline(ctx, cmds)
	if retry && isStale(errs[0]) && ctx.Err() == nil {
		if oerr := w.reopen(ctx, errs[0]); oerr != nil {
			return fill(errs, oerr)
		}
		errs = w.pipeline(ctx, cmds)
	}
	for i, err := range errs {
		w.note(err)
		if err == nil && !cmds[i].Rcpt {
			w.txn = true
		}
	}
	return errs
}

func (w *pooledConn) pipeline(ctx context.Context, cmds []Command) []error {
	if p, ok := w.c.(Pipeliner); ok && p.Pipelining() {
		return p.Pipeline(ctx, cmds)
	}
	return sendEach(ctx, w.c, cmds)
}

// fill sets every element of errs to err and returns errs.
func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (w *pooledConn) Rcpt(ctx context.Context, to, params string) error {
	if w.c == nil {
		return errNoConn
	}
	w.first = false
	err := w.c.Rcpt(ctx, to, params)
	w.note(err)
	return err
}

// Data sends the message. Only a 250 ends the transaction for certain: a
// refusal of the DATA command itself (RFC 5321 §4.1.1.4) leaves the envelope
// in place, so after any other reply the connection is reset before reuse.
func (w *pooledConn) Data(ctx context.Context, msg io.WriterTo) error {
	if w.c == nil {
		return errNoConn
	}
	w.first = false
	err := w.c.Data(ctx, msg)
	w.note(err)
	if err == nil {
		w.txn = false
	}
	return err
}

func (w *pooledConn) Reset(ctx context.Context) error {
	if w.c == nil {
		return errNoConn
	}
	w.first = false
	err := w.c.Reset(ctx)
	w.note(err)
	if err == nil {
		w.txn = false
	}
	return err
}

// LastReply is that of the wrapped connection: after a stale pooled
// connection was replaced, the new one's. nil when there is none.
func (w *pooledConn) LastReply() *smtp.Reply {
	if w.c == nil {
		return nil
	}
	return w.c.LastReply()
}

// Close gives the connection back to the pool when it is healthy, after an
// RSET if a transaction may be open; otherwise it closes it (sending QUIT
// when healthy). It may be called more than once.
func (w *pooledConn) Close() error {
	c := w.c
	if c == nil {
		return nil
	}
	w.c = nil
	if w.broken {
		return c.Close()
	}
	if w.txn {
		ctx, cancel := context.WithTimeout(context.Background(), poolResetTimeout)
		err := c.Reset(ctx)
		cancel()
		if err != nil {
			w.p.log.Debug("upstream RSET before pooling failed", "session", w.id.SessionID, "err", err)
			return c.Close()
		}
		w.active = w.p.now()
	}
	w.p.put(c, w.active)
	return nil
}

// note records the outcome of a command. A success proves the server saw
// us just now; a refusal proves nothing, since some are made locally without
// a word to the server. An error that is not a reply, or a 421, marks the
// connection broken: the server is gone or going (RFC 5321 §3.8).
func (w *pooledConn) note(err error) {
	switch {
	case err == nil:
		w.active = w.p.now()
	case isStale(err):
		w.broken = true
	}
}

// isStale reports whether err means the connection is lost: an error that is
// not a reply, or a 421.
func isStale(err error) bool {
	if err == nil {
		return false
	}
	var r *smtp.Reply
	return !errors.As(err, &r) || r.Code == 421
}

// positiveOr returns v, or def when v is 0 or less (a zero field).
func positiveOr[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
