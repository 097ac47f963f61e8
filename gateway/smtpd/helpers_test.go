package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// fakeBackend records every call of every session, in order.
type fakeBackend struct {
	mu       sync.Mutex
	calls    []string
	msgs     [][]byte
	sessions int
	closes   int
	closed   chan struct{} // one value per Session.Close

	// hooks, all optional
	connect func() *smtp.Reply            // NewSession's reply
	gate    chan struct{}                 // NewSession waits for it to close
	mail    func(from string) *smtp.Reply // may panic
	rcpt    func(to string) *smtp.Reply
	data    func(msg []byte) *smtp.Reply // nil hook: Data returns nil
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{closed: make(chan struct{}, 1000)}
}

func (b *fakeBackend) record(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf(format, args...))
}

// Calls returns the recorded calls joined by "|".
func (b *fakeBackend) Calls() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.calls, "|")
}

// Messages returns the messages Data received.
func (b *fakeBackend) Messages() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.msgs...)
}

// waitClosed waits until n sessions have been closed in total.
func (b *fakeBackend) waitClosed(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		b.mu.Lock()
		got := b.closes
		b.mu.Unlock()
		if got >= n {
			if got > n {
				t.Fatalf("%d Session.Close calls, want %d", got, n)
			}
			return
		}
		select {
		case <-b.closed:
		case <-deadline:
			t.Fatalf("only %d of %d sessions closed", got, n)
		}
	}
}

func (b *fakeBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	if b.gate != nil {
		<-b.gate
	}
	if b.connect != nil {
		if r := b.connect(); r != nil {
			b.record("refused")
			return nil, r
		}
	}
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
	return &fakeSession{b: b}, nil
}

type fakeSession struct {
	b      *fakeBackend
	closed bool
}

func (s *fakeSession) Helo(ctx context.Context, name string, tls *tls.ConnectionState) *smtp.Reply {
	s.b.record("helo %s tls=%v", name, tls != nil)
	return nil
}

func (s *fakeSession) Mail(ctx context.Context, from, params string) *smtp.Reply {
	s.b.record("mail <%s> %s", from, params)
	if s.b.mail != nil {
		return s.b.mail(from)
	}
	return nil
}

func (s *fakeSession) Rcpt(ctx context.Context, to, params string) *smtp.Reply {
	s.b.record("rcpt <%s> %s", to, params)
	if s.b.rcpt != nil {
		return s.b.rcpt(to)
	}
	return nil
}

func (s *fakeSession) Data(ctx context.Context, msg []byte) *smtp.Reply {
	s.b.record("data %d", len(msg))
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, append([]byte(nil), msg...))
	s.b.mu.Unlock()
	if s.b.data != nil {
		return s.b.data(msg)
	}
	return nil
}

func (s *fakeSession) Reset() { s.b.record("reset") }

func (s *fakeSession) Close() {
	if s.closed {
		panic("Session.Close called twice")
	}
	s.closed = true
	s.b.record("close")
	s.b.mu.Lock()
	s.b.closes++
	s.b.mu.Unlock()
	s.b.closed <- struct{}{}
}

// accept250 makes Data accept every message.
func accept250([]byte) *smtp.Reply { return smtp.NewReply(250, "2.0.0", "Queued") }

// logRecorder is a slog handler that keeps messages and their session
// attribute, to assert on logs (a recovered panic is only visible there).
type logRecorder struct {
	mu      *sync.Mutex
	entries *[]logEntry
	attrs   []slog.Attr
}

type logEntry struct{ msg, session string }

func newLogRecorder() logRecorder { return logRecorder{mu: &sync.Mutex{}, entries: &[]logEntry{}} }

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h logRecorder) Handle(_ context.Context, r slog.Record) error {
	e := logEntry{msg: r.Message}
	find := func(a slog.Attr) bool {
		if a.Key == "session" {
			e.session = a.Value.String()
		}
		return true
	}
	for _, a := range h.attrs {
		find(a)
	}
	r.Attrs(find)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.entries = append(*h.entries, e)
	return nil
}
func (h logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}
func (h logRecorder) WithGroup(string) slog.Handler { return h }

func (h logRecorder) all() []logEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logEntry(nil), *h.entries...)
}

func (h logRecorder) has(msg string) bool {
	for _, e := range h.all() {
		if e.msg == msg {
			return true
		}
	}
	return false
}

// testServer runs a Server on 127.0.0.1. At cleanup it shuts down, checks
// that no panic was logged (unless allowPanic) and that the goroutine count
// is back to where it was.
type testServer struct {
	*Server
	addr       string
	backend    *fakeBackend
	logs       logRecorder
	allowPanic bool
}

func startServer(t testing.TB, cfg Config, b *fakeBackend) *testServer {
	t.Helper()
	return startServerWith(t, cfg, b, b)
}

// startServerWith serves backend, which records its calls in b.
func startServerWith(t testing.TB, cfg Config, backend Backend, b *fakeBackend) *testServer {
	t.Helper()
	return startServerOn(t, cfg, backend, b, nil)
}

// startServerOn is startServerWith on a listener that wrap, if not nil,
// makes from the TCP listener.
func startServerOn(t testing.TB, cfg Config, backend Backend, b *fakeBackend, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	baseline := runtime.NumGoroutine()
	logs := newLogRecorder()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(logs)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "mx.test"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: New(cfg, backend), addr: ln.Addr().String(), backend: b, logs: logs}
	if wrap != nil {
		ln = wrap(ln)
	}
	served := make(chan error, 1)
	go func() { served <- ts.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		if !ts.allowPanic && logs.has("panic in session") || logs.has("panic in Session.Close") {
			t.Errorf("a panic was recovered")
		}
		waitGoroutines(t, baseline)
	})
	return ts
}

// waitGoroutines waits until the goroutine count is back to baseline.
func waitGoroutines(t testing.TB, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// client is the test's side of one connection: the shared scripted
// client, with replies read as smtp.Reply to check enhanced codes.
type client struct{ *smtptest.Client }

// dial connects without reading the greeting. The whole dialogue has 10 s.
func (ts *testServer) dial(t testing.TB) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{smtptest.New(t, nc)}
}

// greeted dials and reads the 220.
func (ts *testServer) greeted(t testing.TB) *client {
	t.Helper()
	c := ts.dial(t)
	r := c.expect(220, "")
	if r.Lines[0] != "mx.test ESMTP Sluice" {
		t.Fatalf("greeting %q", r.Lines[0])
	}
	return c
}

// ehloed also says EHLO.
func (ts *testServer) ehloed(t testing.TB) *client {
	t.Helper()
	c := ts.greeted(t)
	c.cmd("EHLO client.test", 250, "")
	return c
}

// inMail also starts a transaction.
func (ts *testServer) inMail(t testing.TB) *client {
	t.Helper()
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<a@example.org>", 250, "2.1.0")
	return c
}

// inRcpt also adds a recipient.
func (ts *testServer) inRcpt(t testing.TB) *client {
	t.Helper()
	c := ts.inMail(t)
	c.cmd("RCPT TO:<b@example.net>", 250, "2.1.5")
	return c
}

// expect reads one reply and checks its code and enhanced code ("" = any).
func (c *client) expect(code int, enhanced string) *smtp.Reply {
	c.T.Helper()
	r, err := smtp.ReadReply(c.R)
	if err != nil {
		c.T.Fatalf("reading reply (want %d): %v", code, err)
	}
	if r.Code != code || (enhanced != "" && r.Enhanced != enhanced) {
		c.T.Fatalf("got %q, want %d %s", r.Format(), code, enhanced)
	}
	return r
}

// cmd sends one command line and checks the reply.
func (c *client) cmd(line string, code int, enhanced string) *smtp.Reply {
	c.T.Helper()
	c.Write(line + "\r\n")
	return c.expect(code, enhanced)
}

// toData starts a transaction from a@example.org to b@example.net: MAIL,
// RCPT and DATA, each with its own reply (250, 250, 354), before the
// message.
func (c *client) toData() {
	c.T.Helper()
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	c.cmd("RCPT TO:<b@example.net>", 250, "")
	c.cmd("DATA", 354, "")
}

// expectReplies reads one reply for each of replies, a code optionally
// followed by a space and the enhanced code ("354", "250 2.1.5"), and
// checks it as expect does: the replies to a pipelined group.
func (c *client) expectReplies(replies ...string) {
	c.T.Helper()
	for _, r := range replies {
		code, enhanced, _ := strings.Cut(r, " ")
		n, err := strconv.Atoi(code)
		if err != nil {
			c.T.Fatalf("bad expected reply %q", r)
		}
		c.expect(n, enhanced)
	}
}

// expectClosed checks that the server closed the connection.
func (c *client) expectClosed() {
	c.T.Helper()
	b, err := c.R.ReadByte()
	if err == nil {
		rest, _ := c.R.Peek(c.R.Buffered())
		c.T.Fatalf("connection still open, read %q%q", b, rest)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.T.Fatalf("connection not closed: %v", err)
	}
}
