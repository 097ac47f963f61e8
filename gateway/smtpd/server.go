package smtpd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smtpd: server closed")

// forceGrace is how long Shutdown waits, after its context is done and the
// remaining sessions were told to stop, before it closes their sockets.
const forceGrace = 2 * time.Second

// Server is the inbound SMTP server. Create it with New; it may Serve
// several listeners at once.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger

	mu        sync.Mutex
	shutting  bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int
	wg        sync.WaitGroup // one per session being served

	// Session goroutines wait here for the next connection once theirs
	// ends, so a connection usually starts on a goroutine whose stack has
	// already grown to what a session with plugin calls needs (see work).
	next        chan *conn
	idleWorkers atomic.Int32
	quit        chan struct{} // closed by the first Shutdown: idle ones exit

	// Buffers of finished connections, for the next ones: a session per
	// message (as smtp-source and many MTAs send) would otherwise allocate
	// 20 KiB of them per message.
	readers, writers sync.Pool
	// The buffers a large message is gathered in (smtp.DataOptions.Chunks).
	chunks sync.Pool
}

// New returns a Server; zero fields of cfg take their defaults.
func New(cfg Config, b Backend) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:       cfg,
		backend:   b,
		log:       cfg.Logger,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		perIP:     map[string]int{},
		next:      make(chan *conn),
		quit:      make(chan struct{}),
	}
}

// maxIdleWorkers bounds the session goroutines kept waiting for a
// connection; beyond it a goroutine whose session ended exits.
const maxIdleWorkers = 32

// Serve accepts connections on ln until Shutdown (then it returns
// ErrServerClosed) or until ln fails.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			shutting := s.shutting
			s.mu.Unlock()
			if shutting {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// EMFILE and the like: wait and retry rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !s.admit(nc) {
			return ErrServerClosed
		}
	}
}

// admit counts a new connection and starts its goroutine, or refuses it
// beyond the caps (docs/TESTPLAN.md row 24). It returns false once shutting down.
func (s *Server) admit(nc net.Conn) bool {
	if tc, ok := nc.(*net.TCPConn); ok {
		// docs/DESIGN.md §6: Nagle's algorithm delays our small replies. Go sets
		// this by default; say it anyway.
		tc.SetNoDelay(true)
	}
	ip := remoteIP(nc)
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	if (s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections) ||
		(s.cfg.MaxConnectionsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnectionsPerIP) {
		s.wg.Add(1)
		s.mu.Unlock()
		go s.refuse(nc, ip)
		return true
	}
	c := newConn(s, nc, newSessionID(), ip)
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.wg.Add(1)
	s.mu.Unlock()
	select {
	case s.next <- c: // a goroutine that served an earlier session
	default:
		go s.work(c)
	}
	return true
}

// work serves c, then waits for the next connection admit hands over, up
// to maxIdleWorkers goroutines at a time and until Shutdown. A new
// goroutine starts with a small stack that a session's first plugin call
// grows by copying, several times (runtime.newstack was about 3% of the CPU
// at one message per connection); a reused one has grown already
// (RATIONALE.md, "Sessions run on goroutines that outlive them").
func (s *Server) work(c *conn) {
	for {
		s.serve(c)
		if s.idleWorkers.Add(1) > maxIdleWorkers {
			s.idleWorkers.Add(-1)
			return
		}
		select {
		case c = <-s.next:
			s.idleWorkers.Add(-1)
		case <-s.quit:
			s.idleWorkers.Add(-1)
			return
		}
	}
}

func (s *Server) serve(c *conn) {
	defer s.wg.Done()
	defer s.forget(c)
	c.serve()
}

// refuse answers 421 4.7.0 to a connection over the caps and closes it.
func (s *Server) refuse(nc net.Conn, ip string) {
	defer s.wg.Done()
	s.log.Warn("connection refused: too many connections", "remote", ip)
	nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	nc.Write([]byte(replyTooManyConns.Format()))
	nc.Close()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if s.perIP[c.remoteIP]--; s.perIP[c.remoteIP] <= 0 {
		delete(s.perIP, c.remoteIP)
	}
}

// Shutdown stops accepting, tells idle sessions (between transactions) to
// close with 421 4.3.2 and lets the others finish their transaction. When
// ctx is done, the remaining sessions are closed with 421 4.3.2 too and their
// contexts cancelled; Shutdown then returns ctx.Err(). It returns nil if all
// sessions ended before.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutting {
		close(s.quit)
	}
	s.shutting = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stop(stopDrain)
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.stop(stopForce)
	}
	s.mu.Unlock()
	timer := time.NewTimer(forceGrace)
	defer timer.Stop()
	select {
	case <-done:
		return ctx.Err()
	case <-timer.C:
	}
	s.mu.Lock()
	for c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
	timer.Reset(forceGrace)
	select {
	case <-done:
	case <-timer.C:
		s.log.Error("sessions still running after shutdown", "count", s.count())
	}
	return ctx.Err()
}

// count returns the number of open sessions.
func (s *Server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// newSessionID returns 16 random hex digits.
func newSessionID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// remoteIP is the address part of the peer, the key of per-IP counting.
func remoteIP(nc net.Conn) string {
	a := nc.RemoteAddr()
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}
