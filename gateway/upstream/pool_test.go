package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakeclock"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// newTestPool returns a pool on addr with a fake clock, closed at cleanup.
func newTestPool(t *testing.T, addr string, opts PoolOptions) (*Pool, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	p := NewPool(newTestSMTP(addr, 2*time.Second), opts)
	p.now = clk.Now
	t.Cleanup(func() { p.Close() })
	return p, clk
}

func (p *Pool) idleLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func testMsg(n int) rawMsg {
	return rawMsg(fmt.Sprintf("Subject: pool %d\r\n\r\nmessage %d\r\n", n, n))
}

// session runs one client session through the pool: open, one transaction,
// close.
func session(ctx context.Context, p *Pool, n int) error {
	c, err := p.Open(ctx, Identity{SessionID: fmt.Sprint("s", n)})
	if err != nil {
		return err
	}
	defer c.Close()
	return send(ctx, c, fmt.Sprintf("a%d@example.org", n), []string{"b@example.net"}, testMsg(n))
}

// mustSession runs session n, which must succeed.
func mustSession(t *testing.T, ctx context.Context, p *Pool, n int) {
	t.Helper()
	if err := session(ctx, p, n); err != nil {
		t.Fatalf("session %d: %v", n, err)
	}
}

// sessionOn runs session n, which must succeed, and checks that the
// downstream has seen conns connections in all.
func sessionOn(t *testing.T, ctx context.Context, p *Pool, m *fakemta.MTA, n, conns int) {
	t.Helper()
	mustSession(t, ctx, p, n)
	if m.Conns() != conns {
		t.Errorf("downstream connections = %d, want %d", m.Conns(), conns)
	}
}

// delivered checks that the MTA accepted exactly the messages ns, once each.
func delivered(t *testing.T, m *fakemta.MTA, ns ...int) {
	t.Helper()
	var got []string
	for _, msg := range m.Messages() {
		got = append(got, string(msg.Data))
	}
	var want []string
	for _, n := range ns {
		want = append(want, string(testMsg(n)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
}

func count(cmds []string, verb string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), verb) {
			n++
		}
	}
	return n
}

func TestPoolReusesConnection(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, opts...)
			p, _ := newTestPool(t, m.Addr(), PoolOptions{})
			ctx := testCtx(t)
			for n := range 3 {
				if err := session(ctx, p, n); err != nil {
					t.Fatalf("session %d: %v", n, err)
				}
			}
			if got := m.Conns(); got != 1 {
				t.Errorf("downstream connections = %d, want 1", got)
			}
			delivered(t, m, 0, 1, 2)
			cmds := m.Commands()
			if count(cmds, "EHLO") != 1 || count(cmds, "QUIT") != 0 || count(cmds, "RSET") != 0 {
				t.Errorf("commands = %q, want one EHLO, no RSET, no QUIT", cmds)
			}
		})
	}
}

// A transaction left open by a refused recipient is reset before the
// connection serves the next session, which must not see a nested MAIL.
func TestPoolResetsOpenTransaction(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Reject(550, "5.1.1", "No such user")))
	p, _ := newTestPool(t, m.Addr(), PoolOptions{})
	ctx := testCtx(t)
	err := session(ctx, p, 0)
	var r *smtp.Reply
	if !errors.As(err, &r) || r.Code != 550 {
		t.Fatalf("session 0: %v, want the 550", err)
	}
	if p.idleLen() != 1 {
		t.Fatalf("idle = %d, want 1 after the reset", p.idleLen())
	}
	if err := session(ctx, p, 1); err != nil {
		t.Fatalf("session 1: %v", err)
	}
	if got := m.Conns(); got != 1 {
		t.Errorf("downstream connections = %d, want 1", got)
	}
	delivered(t, m, 1)
	cmds := m.Commands()
	rset := slices.IndexFunc(cmds, func(c string) bool { return c == "RSET" })
	mail2 := slices.IndexFunc(cmds, func(c string) bool { return strings.HasPrefix(c, "MAIL FROM:<a1@") })
	if rset < 0 || mail2 < rset {
		t.Errorf("commands = %q, want RSET before the second MAIL", cmds)
	}
}

// A refusal at end of data may come from the DATA command itself, which
// leaves the envelope in place: the connection is reset before reuse too.
func TestPoolResetsAfterDataRefusal(t *testing.T) {
	m := fakemta.Start(t, fakemta.OnNth(fakemta.EndOfData, 1, fakemta.Tempfail(451, "4.3.0", "Try later")))
	p, _ := newTestPool(t, m.Addr(), PoolOptions{})
	ctx := testCtx(t)
	if err := session(ctx, p, 0); err == nil {
		t.Fatal("session 0 succeeded, want the 451")
	}
	if err := session(ctx, p, 1); err != nil {
		t.Fatalf("session 1: %v", err)
	}
	delivered(t, m, 1)
	if m.Conns() != 1 || count(m.Commands(), "RSET") != 1 {
		t.Errorf("conns = %d, commands = %q: want one connection, reset once", m.Conns(), m.Commands())
	}
}

// When the reset before pooling fails, the connection is closed, not pooled.
func TestPoolClosesWhenResetFails(t *testing.T) {
	m := fakemta.Start(t,
		fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Reject(550, "5.1.1", "No such user")),
		fakemta.OnNth(fakemta.Rset, 1, fakemta.Reply(454, "4.3.0", "Nope")))
	p, _ := newTestPool(t, m.Addr(), PoolOptions{})
	ctx := testCtx(t)
	_ = session(ctx, p, 0)
	if p.idleLen() != 0 {
		t.Fatalf("idle = %d, want 0", p.idleLen())
	}
	sessionOn(t, ctx, p, m, 1, 2)
	delivered(t, m, 1)
}

// A connection that failed (dropped, or 421) is never pooled.
func TestPoolNeverReusesBrokenConnection(t *testing.T) {
	cases := map[string]fakemta.Option{
		"drop at RCPT": fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Drop()),
		"drop at data": fakemta.OnNth(fakemta.EndOfData, 1, fakemta.Drop()),
		"421 at MAIL":  fakemta.OnNth(fakemta.Mail, 1, fakemta.Shutdown()),
		"421 at RCPT":  fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Shutdown()),
	}
	for name, opt := range cases {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, opt)
			p, _ := newTestPool(t, m.Addr(), PoolOptions{})
			ctx := testCtx(t)
			if err := session(ctx, p, 0); err == nil {
				t.Fatal("session 0 succeeded")
			}
			if p.idleLen() != 0 {
				t.Fatalf("idle = %d, want 0", p.idleLen())
			}
			sessionOn(t, ctx, p, m, 1, 2)
			if m.Transactions() != 2 {
				t.Errorf("MAIL commands = %d, want 2: nothing retried", m.Transactions())
			}
			delivered(t, m, 1)
		})
	}
}

// A connection idle for IdleTimeout is not reused: the next session gets a
// new one, and each message arrives once.
func TestPoolIdleTimeout(t *testing.T) {
	m := fakemta.Start(t)
	p, clk := newTestPool(t, m.Addr(), PoolOptions{IdleTimeout: time.Minute})
	ctx := testCtx(t)
	mustSession(t, ctx, p, 0)
	clk.Advance(59 * time.Second)
	mustSession(t, ctx, p, 1)
	if m.Conns() != 1 {
		t.Fatalf("downstream connections = %d, want 1 within the idle timeout", m.Conns())
	}
	clk.Advance(time.Minute)
	mustSession(t, ctx, p, 2)
	if m.Conns() != 2 {
		t.Errorf("downstream connections = %d, want 2 after the idle timeout", m.Conns())
	}
	if m.Transactions() != 3 {
		t.Errorf("MAIL commands = %d, want 3", m.Transactions())
	}
	delivered(t, m, 0, 1, 2)
}

// Taking a connection out of the pool and giving it back unused does not
// make it look fresh: the server's idle timer still runs.
func TestPoolIdleTimeoutCountsFromLastCommand(t *testing.T) {
	m := fakemta.Start(t)
	p, clk := newTestPool(t, m.Addr(), PoolOptions{IdleTimeout: time.Minute})
	ctx := testCtx(t)
	mustSession(t, ctx, p, 0)
	clk.Advance(40 * time.Second)
	c, err := p.Open(ctx, Identity{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	clk.Advance(40 * time.Second)
	sessionOn(t, ctx, p, m, 1, 2)
	delivered(t, m, 0, 1)
}

// The background sweep closes expired idle connections with QUIT.
func TestPoolSweepsExpiredConnections(t *testing.T) {
	m := fakemta.Start(t)
	p := NewPool(newTestSMTP(m.Addr(), 2*time.Second), PoolOptions{IdleTimeout: 20 * time.Millisecond})
	t.Cleanup(func() { p.Close() })
	mustSession(t, testCtx(t), p, 0)
	deadline := time.Now().Add(5 * time.Second)
	for p.idleLen() != 0 || count(m.Commands(), "QUIT") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("idle = %d, commands = %q: the expired connection was not closed", p.idleLen(), m.Commands())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// relay is a TCP relay in front of the fake MTA that can cut every
// connection, as a server that closes idle connections does.
type relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	pairs [][2]net.Conn // client side, server side
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	r.wg.Go(r.accept)
	t.Cleanup(func() {
		r.ln.Close()
		r.kill("")
		r.wg.Wait()
	})
	return r
}

func (r *relay) Addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", r.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.pairs = append(r.pairs, [2]net.Conn{c, s})
		r.mu.Unlock()
		r.wg.Go(func() { io.Copy(s, c); s.Close() })
		r.wg.Go(func() { io.Copy(c, s); c.Close() })
	}
}

// kill writes last to every client, then cuts every connection.
func (r *relay) kill(last string) {
	r.mu.Lock()
	pairs := r.pairs
	r.pairs = nil
	r.mu.Unlock()
	for _, p := range pairs {
		if last != "" {
			p[0].SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(p[0], last)
		}
		p[0].Close()
		p[1].Close()
	}
}

// A pooled connection closed by the server between sessions is replaced
// transparently at MAIL; the message arrives once.
func TestPoolRetriesStaleConnection(t *testing.T) {
	cases := map[string]string{
		"closed":      "",
		"421 timeout": "421 4.4.2 fakemta.test Error: timeout exceeded\r\n",
	}
	for name, last := range cases {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t)
			r := startRelay(t, m.Addr())
			p, _ := newTestPool(t, r.Addr(), PoolOptions{})
			ctx := testCtx(t)
			mustSession(t, ctx, p, 0)
			r.kill(last)
			sessionOn(t, ctx, p, m, 1, 2)
			delivered(t, m, 0, 1)
			// The replacement is healthy and pooled in turn.
			sessionOn(t, ctx, p, m, 2, 2)
			delivered(t, m, 0, 1, 2)
		})
	}
}

// The stale retry reopens through the upstream; if that fails, the caller
// gets the unreachable error as from any Open.
func TestPoolStaleRetryUnreachable(t *testing.T) {
	m := fakemta.Start(t)
	r := startRelay(t, m.Addr())
	p, _ := newTestPool(t, r.Addr(), PoolOptions{})
	ctx := testCtx(t)
	mustSession(t, ctx, p, 0)
	r.ln.Close()
	r.kill("")
	err := session(ctx, p, 1)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("session: %v, want ErrUnreachable", err)
	}
	delivered(t, m, 0)
}

// A reused connection that fails at its first MAIL is retried once, on a new
// connection; one that fails later, or a new one, is never retried.
func TestPoolRetriesOnlyFirstMailOfReusedConnection(t *testing.T) {
	t.Run("reused, MAIL", func(t *testing.T) {
		m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 2, fakemta.Drop()))
		p, _ := newTestPool(t, m.Addr(), PoolOptions{})
		ctx := testCtx(t)
		for n := range 2 {
			if err := session(ctx, p, n); err != nil {
				t.Fatalf("session %d: %v", n, err)
			}
		}
		if m.Conns() != 2 || m.Transactions() != 3 {
			t.Errorf("conns = %d, MAIL commands = %d, want 2 and 3", m.Conns(), m.Transactions())
		}
		delivered(t, m, 0, 1)
	})
	t.Run("reused, MAIL refused", func(t *testing.T) {
		m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 2, fakemta.Tempfail(451, "4.7.1", "Later")))
		p, _ := newTestPool(t, m.Addr(), PoolOptions{})
		ctx := testCtx(t)
		_ = session(ctx, p, 0)
		if err := session(ctx, p, 1); err == nil {
			t.Fatal("refused MAIL succeeded")
		}
		if m.Transactions() != 2 {
			t.Errorf("MAIL commands = %d, want 2", m.Transactions())
		}
	})
	t.Run("new, MAIL", func(t *testing.T) {
		m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 1, fakemta.Drop()))
		p, _ := newTestPool(t, m.Addr(), PoolOptions{})
		if err := session(testCtx(t), p, 0); err == nil {
			t.Fatal("dropped MAIL succeeded")
		}
		if m.Conns() != 1 || m.Transactions() != 1 {
			t.Errorf("conns = %d, MAIL commands = %d, want 1 and 1", m.Conns(), m.Transactions())
		}
	})
	t.Run("reused, RCPT", func(t *testing.T) {
		m := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Drop()))
		p, _ := newTestPool(t, m.Addr(), PoolOptions{})
		ctx := testCtx(t)
		_ = session(ctx, p, 0)
		if err := session(ctx, p, 1); err == nil {
			t.Fatal("dropped RCPT succeeded")
		}
		if m.Conns() != 1 || m.Transactions() != 2 {
			t.Errorf("conns = %d, MAIL commands = %d, want 1 and 2", m.Conns(), m.Transactions())
		}
		delivered(t, m, 0)
	})
	t.Run("reused, second MAIL", func(t *testing.T) {
		m := fakemta.Start(t, fakemta.OnNth(fakemta.Mail, 3, fakemta.Drop()))
		p, _ := newTestPool(t, m.Addr(), PoolOptions{})
		ctx := testCtx(t)
		_ = session(ctx, p, 0)
		c, err := p.Open(ctx, Identity{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := send(ctx, c, "a1@example.org", []string{"b@example.net"}, testMsg(1)); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail(ctx, "a2@example.org", ""); err == nil {
			t.Fatal("dropped MAIL succeeded")
		}
		if m.Conns() != 1 || m.Transactions() != 3 {
			t.Errorf("conns = %d, MAIL commands = %d, want 1 and 3", m.Conns(), m.Transactions())
		}
	})
}

// At most MaxIdle connections stay open; the others are closed with QUIT.
func TestPoolMaxIdle(t *testing.T) {
	m := fakemta.Start(t)
	p, _ := newTestPool(t, m.Addr(), PoolOptions{MaxIdle: 2})
	ctx := testCtx(t)
	var conns []Conn
	for range 4 {
		c, err := p.Open(ctx, Identity{})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(i)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if p.idleLen() != 2 {
		t.Errorf("idle = %d, want 2", p.idleLen())
	}
	if got := count(m.Commands(), "QUIT"); got != 2 {
		t.Errorf("QUITs = %d, want 2", got)
	}
	for n := 4; n < 7; n++ {
		if err := session(ctx, p, n); err != nil {
			t.Fatal(err)
		}
	}
	if m.Conns() != 4 {
		t.Errorf("downstream connections = %d, want 4", m.Conns())
	}
	delivered(t, m, 0, 1, 2, 3, 4, 5, 6)
}

// Close closes the idle connections; the pool is then bypassed.
func TestPoolClose(t *testing.T) {
	m := fakemta.Start(t)
	p, _ := newTestPool(t, m.Addr(), PoolOptions{})
	ctx := testCtx(t)
	var conns []Conn
	for range 3 {
		c, err := p.Open(ctx, Identity{})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns[:2] {
		c.Close()
	}
	if p.idleLen() != 2 {
		t.Fatalf("idle = %d, want 2", p.idleLen())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if p.idleLen() != 0 || count(m.Commands(), "QUIT") != 2 {
		t.Fatalf("idle = %d, commands = %q: want both idle connections quit", p.idleLen(), m.Commands())
	}
	// A connection in use when the pool closed is closed, not pooled.
	conns[2].Close()
	if p.idleLen() != 0 || count(m.Commands(), "QUIT") != 3 {
		t.Fatalf("idle = %d, commands = %q: want the busy connection quit", p.idleLen(), m.Commands())
	}
	// Later sessions bypass the pool.
	mustSession(t, ctx, p, 0)
	if p.idleLen() != 0 || count(m.Commands(), "QUIT") != 4 || m.Conns() != 4 {
		t.Errorf("idle = %d, conns = %d, commands = %q", p.idleLen(), m.Conns(), m.Commands())
	}
	delivered(t, m, 0)
}

func TestPoolConcurrent(t *testing.T) {
	const workers, each = 20, 5
	m := fakemta.Start(t)
	p, _ := newTestPool(t, m.Addr(), PoolOptions{})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := session(ctx, p, w*each+i); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var all []int
	for n := range workers * each {
		all = append(all, n)
	}
	delivered(t, m, all...)
	if got := m.Conns(); got > workers {
		t.Errorf("downstream connections = %d, want at most %d", got, workers)
	}
	if got := p.idleLen(); got != m.Conns() {
		t.Errorf("idle = %d, want all %d connections", got, m.Conns())
	}
}

// Calls on a wrapper whose stale retry could not reconnect fail cleanly.
func TestPoolConnWithoutConnection(t *testing.T) {
	w := &pooledConn{p: NewPool(nil, PoolOptions{})}
	ctx := testCtx(t)
	for name, err := range map[string]error{
		"Mail":  w.Mail(ctx, "a@b", ""),
		"Rcpt":  w.Rcpt(ctx, "a@b", ""),
		"Data":  w.Data(ctx, rawMsg("x\r\n")),
		"Reset": w.Reset(ctx),
	} {
		var r *smtp.Reply
		if err == nil || errors.As(err, &r) {
			t.Errorf("%s: %v, want a non-reply error", name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
