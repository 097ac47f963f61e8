package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

// hook is an in-process plugin for these dialogues; the WebAssembly host has
// its own tests, and gateway/e2e runs real plugins.
type hook struct {
	phase filter.Phase
	fn    func(st *filter.State) (filter.Verdict, error)
	calls atomic.Int32
}

func (h *hook) Has(p filter.Phase) bool { return p == h.phase }
func (h *hook) Call(_ context.Context, st *filter.State) (filter.Verdict, error) {
	h.calls.Add(1)
	return h.fn(st)
}

func tagger() *hook {
	return &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		st.Touch()
		f, _ := message.Render([]byte("X-Tagged"), []byte("yes"))
		st.Msg.Insert(len(st.Msg.Fields), f)
		return filter.Continue, nil
	}}
}

// gw is a sluice front end on a loopback port, forwarding to up.
type gw struct {
	addr    string
	srv     *smtpd.Server
	backend *Backend
}

func startGateway(t *testing.T, up upstream.Upstream, entries ...filter.Entry) *gw {
	t.Helper()
	return startObserved(t, up, nopObserver{}, entries...)
}

func startObserved(t *testing.T, up upstream.Upstream, obs Observer, entries ...filter.Entry) *gw {
	t.Helper()
	return startWith(t, up, obs, slog.New(slog.DiscardHandler), entries...)
}

// startLogged starts a gateway whose log goes to log.
func startLogged(t *testing.T, up upstream.Upstream, log *slog.Logger, entries ...filter.Entry) *gw {
	t.Helper()
	return startWith(t, up, nopObserver{}, log, entries...)
}

func startWith(t *testing.T, up upstream.Upstream, obs Observer, log *slog.Logger, entries ...filter.Entry) *gw {
	t.Helper()
	gen := &Generation{
		Policy:   &policy.Policy{},
		chain:    &filter.Chain{Entries: entries},
		upstream: up,
		hostname: "sluice.test",
		log:      log,
		obs:      obs,
		limits:   message.Limits{MaxHeaderBytes: 64 << 10, MaxHeaderFields: 1000},
	}
	return serveGeneration(t, gen, nil)
}

// serveGeneration serves gen on a loopback port until the test ends, with
// xforwardPeers allowed to send XFORWARD.
func serveGeneration(t *testing.T, gen *Generation, xforwardPeers []netip.Prefix) *gw {
	t.Helper()
	gen.refs.Store(1)
	b := NewBackend(gen, gen.log)
	srv := smtpd.New(smtpd.Config{Hostname: "sluice.test", CommandTimeout: 10 * time.Second, DataTimeout: 10 * time.Second,
		Logger: gen.log, XForwardPeers: xforwardPeers}, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		b.Close()
	})
	return &gw{addr: ln.Addr().String(), srv: srv, backend: b}
}

func smtpUp(mta *fakemta.MTA, dataTimeout time.Duration) upstream.Upstream {
	return upstream.NewSMTP(upstream.SMTPConfig{Address: mta.Addr(), Helo: "sluice.test",
		ConnectTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, DataTimeout: dataTimeout})
}

// client is a scripted SMTP client whose replies must not leak internals.
type client struct{ *smtptest.Client }

func dial(t *testing.T, addr string) *client {
	t.Helper()
	cl := &client{smtptest.Dial(t, addr)}
	cl.expect("220")
	cl.cmd("EHLO client.test", "250")
	return cl
}

func (c *client) expect(prefix string) string {
	c.T.Helper()
	got := c.Expect(prefix)
	// No reply ever carries Go error text (docs/DESIGN.md §1).
	for _, leak := range []string{"dial", "EOF", "connection refused", "i/o timeout", "context", "wasm", "panic"} {
		if strings.Contains(got, leak) {
			c.T.Fatalf("reply leaks internals: %q", got)
		}
	}
	return got
}

func (c *client) cmd(line, want string) string {
	c.T.Helper()
	c.Write(line + "\r\n")
	return c.expect(want)
}

// send runs a whole transaction and returns the final reply.
func (c *client) send(from string, rcpts []string, body string) string {
	c.T.Helper()
	c.cmd("MAIL FROM:<"+from+">", "250")
	for _, r := range rcpts {
		c.cmd("RCPT TO:<"+r+">", "250")
	}
	c.cmd("DATA", "354")
	c.Write(body + "\r\n.\r\n")
	return c.Reply()
}

const msg = "Subject: test\r\nFrom: a@example.org\r\n\r\nhello\r\n..dot line"

func TestDeliveredOnlyAfterDownstream250(t *testing.T) {
	mta := fakemta.Start(t)
	tag := tagger()
	g := startGateway(t, smtpUp(mta, 5*time.Second), filter.Entry{Name: "tag", Plugin: tag})
	c := dial(t, g.addr)
	if got := c.send("a@example.org", []string{"b@example.net", "c@example.net"}, msg); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("final reply %q", got)
	}
	msgs := mta.Messages()
	if len(msgs) != 1 {
		t.Fatalf("downstream got %d messages", len(msgs))
	}
	m := msgs[0]
	want := "Subject: test\r\nFrom: a@example.org\r\nX-Tagged: yes\r\n\r\nhello\r\n.dot line\r\n"
	if string(m.Data) != want || m.From != "a@example.org" || len(m.Rcpts) != 2 {
		t.Fatalf("downstream got from=%q rcpts=%v data=%q", m.From, m.Rcpts, m.Data)
	}
	// A second transaction on the same session reuses the connection.
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
		t.Fatalf("second transaction: %q", got)
	}
	if mta.Conns() != 1 || len(mta.Messages()) != 2 {
		t.Fatalf("conns %d messages %d", mta.Conns(), len(mta.Messages()))
	}
}

// Every downstream reply and fault at every step maps to the right client
// reply; none of them is ever 250 for the message.
func TestDownstreamReplyPaths(t *testing.T) {
	cases := []struct {
		name string
		opt  fakemta.Option
		at   string // where the client sees it: mail, rcpt, data
		want string
	}{
		{"mail rejected", fakemta.On(fakemta.Mail, fakemta.Reject(553, "5.1.8", "Bad sender")), "mail", "553 5.1.8 Bad sender"},
		{"mail tempfailed", fakemta.On(fakemta.Mail, fakemta.Tempfail(450, "4.1.8", "Try later")), "mail", "450 4.1.8 Try later"},
		{"rcpt rejected", fakemta.On(fakemta.Rcpt, fakemta.Reject(550, "5.1.1", "No such user")), "rcpt", "550 5.1.1 No such user"},
		{"rcpt tempfailed", fakemta.On(fakemta.Rcpt, fakemta.Tempfail(450, "4.2.0", "Greylisted")), "rcpt", "450 4.2.0 Greylisted"},
		{"rcpt 421", fakemta.On(fakemta.Rcpt, fakemta.Shutdown()), "rcpt", "451 4.4.2"},
		{"rcpt drop", fakemta.On(fakemta.Rcpt, fakemta.Drop()), "rcpt", "451 4.4.2"},
		{"greeting refused", fakemta.On(fakemta.Greeting, fakemta.Tempfail(421, "4.3.2", "busy")), "mail", "451 4.4.1"},
		{"ehlo drop", fakemta.On(fakemta.Ehlo, fakemta.Drop()), "mail", "451 4.4.1"},
		{"end of data rejected", fakemta.On(fakemta.EndOfData, fakemta.Reject(554, "5.7.1", "Spam")), "data", "554 5.7.1 Spam"},
		{"end of data tempfailed", fakemta.On(fakemta.EndOfData, fakemta.Tempfail(452, "4.3.1", "Full")), "data", "452 4.3.1 Full"},
		{"end of data drop", fakemta.On(fakemta.EndOfData, fakemta.Drop()), "data", "451 4.4.2"},
		{"end of data hang", fakemta.On(fakemta.EndOfData, fakemta.Hang()), "data", "451 4.4.2"},
		{"end of data garbage", fakemta.On(fakemta.EndOfData, fakemta.Garbage()), "data", "451 4.4.2"},
		{"end of data endless", fakemta.On(fakemta.EndOfData, fakemta.Endless()), "data", "451 4.4.2"},
		{"data command refused", fakemta.On(fakemta.DataCmd, fakemta.Reject(554, "5.5.1", "No")), "data", "554 5.5.1"},
		{"injected reply", fakemta.On(fakemta.EndOfData, fakemta.Send("250 2.0.0 ok\r\n250 2.0.0 extra\r\n")), "data", "451 4.4.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mta := fakemta.Start(t, tc.opt)
			g := startGateway(t, smtpUp(mta, 1500*time.Millisecond))
			c := dial(t, g.addr)
			start := time.Now()
			var got string
			switch tc.at {
			case "mail":
				got = c.cmd("MAIL FROM:<a@example.org>", tc.want)
			case "rcpt":
				c.cmd("MAIL FROM:<a@example.org>", "250")
				got = c.cmd("RCPT TO:<b@example.net>", tc.want)
			case "data":
				got = c.send("a@example.org", []string{"b@example.net"}, msg)
				if !strings.HasPrefix(got, tc.want) {
					t.Fatalf("got %q want %q", got, tc.want)
				}
			}
			if time.Since(start) > 8*time.Second {
				t.Fatalf("reply took %v", time.Since(start))
			}
			if strings.HasPrefix(tc.name, "end of data") && tc.name != "end of data rejected" && tc.name != "end of data tempfailed" {
				if n := len(mta.Messages()); n != 0 && strings.HasPrefix(got, "250") {
					t.Fatalf("250 given with downstream fault")
				}
			}
			// The session goes on: RSET works and the gateway still answers.
			c.cmd("RSET", "250")
			c.cmd("NOOP", "250")
		})
	}
}

// After a downstream 421 the next transaction reconnects (docs/TESTPLAN.md row 40).
func TestReconnectAfter421(t *testing.T) {
	mta := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 1, fakemta.Shutdown()))
	g := startGateway(t, smtpUp(mta, 2*time.Second))
	c := dial(t, g.addr)
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<b@example.net>", "451 4.4.2")
	c.cmd("RSET", "250")
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
		t.Fatalf("after reconnect: %q", got)
	}
	if mta.Conns() != 2 || len(mta.Messages()) != 1 {
		t.Fatalf("conns %d messages %d", mta.Conns(), len(mta.Messages()))
	}
}

func TestUnreachableDownstream(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	g := startGateway(t, upstream.NewSMTP(upstream.SMTPConfig{Address: addr, ConnectTimeout: time.Second}))
	c := dial(t, g.addr)
	c.cmd("MAIL FROM:<a@example.org>", "451 4.4.1")
}

// Plugin verdicts and faults at each phase reach the client, and nothing a
// plugin refused goes downstream.
func TestPluginVerdicts(t *testing.T) {
	reject := func(ph filter.Phase) *hook {
		return &hook{phase: ph, fn: func(st *filter.State) (filter.Verdict, error) {
			st.Reply = smtp.NewReply(550, "5.7.1", "Denied by test plugin")
			return filter.Reject, nil
		}}
	}
	trap := &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		st.Touch()
		st.Msg.Delete(0)
		return filter.Continue, errors.New("wasm trap")
	}}
	t.Run("connect reject delayed to first command", func(t *testing.T) {
		mta := fakemta.Start(t)
		g := startGateway(t, smtpUp(mta, time.Second), filter.Entry{Name: "p", Plugin: reject(filter.Connect)})
		c, _ := net.Dial("tcp", g.addr)
		defer c.Close()
		cl := &client{smtptest.New(t, c)}
		cl.expect("220")
		cl.cmd("EHLO x.test", "550 5.7.1 Denied by test plugin")
		cl.cmd("MAIL FROM:<a@example.org>", "503") // no EHLO accepted
		if mta.Conns() != 0 {
			t.Fatal("downstream contacted for a refused client")
		}
	})
	t.Run("rcpt reject not forwarded", func(t *testing.T) {
		mta := fakemta.Start(t)
		g := startGateway(t, smtpUp(mta, time.Second), filter.Entry{Name: "p", Plugin: reject(filter.Rcpt)})
		c := dial(t, g.addr)
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<b@example.net>", "550 5.7.1 Denied by test plugin")
		c.cmd("DATA", "554")
		for _, cmd := range mta.Commands() {
			if strings.HasPrefix(strings.ToUpper(cmd), "RCPT") {
				t.Fatalf("refused recipient went downstream: %q", cmd)
			}
		}
	})
	t.Run("data fault tempfails and aborts downstream", func(t *testing.T) {
		mta := fakemta.Start(t)
		g := startGateway(t, smtpUp(mta, time.Second), filter.Entry{Name: "trap", Plugin: trap})
		c := dial(t, g.addr)
		if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "451 4.3.0") {
			t.Fatalf("got %q", got)
		}
		if len(mta.Messages()) != 0 {
			t.Fatal("message forwarded after a plugin fault")
		}
		// The next transaction starts cleanly (downstream was reset).
		c.cmd("MAIL FROM:<a@example.org>", "250")
	})
	t.Run("data fault with on_error continue delivers unchanged", func(t *testing.T) {
		mta := fakemta.Start(t)
		g := startGateway(t, smtpUp(mta, time.Second), filter.Entry{Name: "trap", Plugin: trap, OnError: filter.OnErrorContinue})
		c := dial(t, g.addr)
		if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
			t.Fatalf("got %q", got)
		}
		if m := mta.Messages(); len(m) != 1 || !strings.HasPrefix(string(m[0].Data), "Subject: test") {
			t.Fatalf("message not delivered unchanged: %+v", m)
		}
	})
	t.Run("discard accepts and drops", func(t *testing.T) {
		mta := fakemta.Start(t)
		d := &hook{phase: filter.Data, fn: func(*filter.State) (filter.Verdict, error) { return filter.Discard, nil }}
		g := startGateway(t, smtpUp(mta, time.Second), filter.Entry{Name: "d", Plugin: d})
		c := dial(t, g.addr)
		if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
			t.Fatalf("got %q", got)
		}
		if len(mta.Messages()) != 0 {
			t.Fatal("discarded message delivered")
		}
	})
	t.Run("envelope rewrite replays downstream", func(t *testing.T) {
		mta := fakemta.Start(t)
		rw := &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
			st.Touch()
			st.Rcpts = []string{"alias@example.net"}
			st.From = "bounce@example.org"
			st.EnvelopeChanged = true
			return filter.Continue, nil
		}}
		g := startGateway(t, smtpUp(mta, time.Second), filter.Entry{Name: "rw", Plugin: rw})
		c := dial(t, g.addr)
		if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250") {
			t.Fatalf("got %q", got)
		}
		m := mta.Messages()
		if len(m) != 1 || m[0].From != "bounce@example.org" || len(m[0].Rcpts) != 1 || m[0].Rcpts[0] != "alias@example.net" {
			t.Fatalf("rewritten envelope not delivered: %+v", m)
		}
	})
}

// SMTP smuggling through the whole gateway: the fake end-of-data sequences
// never produce a second downstream transaction (docs/TESTPLAN.md rows 1–6).
func TestSmugglingOneTransaction(t *testing.T) {
	for _, fake := range []string{"\n.\n", "\n.\r\n", "\r\n.\n", "\r\n\x00.\r\n"} {
		mta := fakemta.Start(t)
		g := startGateway(t, smtpUp(mta, time.Second))
		c := dial(t, g.addr)
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<b@example.net>", "250")
		c.cmd("DATA", "354")
		fmt.Fprintf(c.Conn, "Subject: s\r\n\r\nbody%sMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nsmuggled\r\n.\r\n", fake)
		c.Reply() // the final reply comes after the downstream transaction ended
		if n := mta.Transactions(); n > 1 {
			t.Fatalf("%q: %d downstream transactions", fake, n)
		}
		for _, m := range mta.Messages() {
			if m.From != "a@example.org" {
				t.Fatalf("%q: smuggled sender delivered", fake)
			}
		}
	}
}

// recorder is an Observer that counts events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string)  { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }
func (r *recorder) SessionStart() { r.add("session+") }
func (r *recorder) SessionEnd()   { r.add("session-") }
func (r *recorder) Step(s filter.Step) {
	r.add("step " + s.Plugin + " " + s.Phase.String() + " " + s.Verdict.String())
}
func (r *recorder) Upstream(op string, _ time.Duration, err error) {
	r.add("up " + op + " " + map[bool]string{true: "ok", false: "err"}[err == nil])
}
func (r *recorder) Transaction(o string) { r.add("txn " + o) }
func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// The observer (metrics) sees sessions, steps, downstream commands and
// transaction outcomes.
func TestObserverEvents(t *testing.T) {
	mta := fakemta.Start(t, fakemta.OnNth(fakemta.EndOfData, 2, fakemta.Reject(554, "5.7.1", "Spam")))
	rec := &recorder{}
	g := startObserved(t, smtpUp(mta, time.Second), rec, filter.Entry{Name: "tag", Plugin: tagger()})
	c := dial(t, g.addr)
	c.send("a@example.org", []string{"b@example.net"}, msg)
	c.send("a@example.org", []string{"b@example.net"}, msg)
	c.cmd("QUIT", "221")
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(rec.list(), "session-") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := strings.Join(rec.list(), "\n")
	for _, want := range []string{"session+", "up connect ok", "up mail ok", "up rcpt ok", "up data ok",
		"step tag data continue", "txn delivered", "up data err", "txn rejected", "session-"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in events:\n%s", want, got)
		}
	}
}

// closeRecorder is an upstream whose Close is observed: a generation closes
// its resources when it has been replaced and its last session ended.
type closeRecorder struct {
	upstream.Upstream
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestOldGenerationFreedAfterLastSession(t *testing.T) {
	mta := fakemta.Start(t)
	old := &closeRecorder{Upstream: smtpUp(mta, time.Second)}
	g := startGateway(t, old)
	c := dial(t, g.addr) // a session on the old generation
	c.cmd("MAIL FROM:<a@example.org>", "250")

	next := &Generation{Policy: &policy.Policy{}, chain: &filter.Chain{}, upstream: smtpUp(mta, time.Second),
		hostname: "sluice.test", log: slog.New(slog.DiscardHandler), obs: nopObserver{}}
	next.refs.Store(1)
	g.backend.Swap(next)
	if old.closed.Load() {
		t.Fatal("old generation closed while a session still uses it")
	}
	// The open transaction finishes on the old generation.
	c.cmd("RCPT TO:<b@example.net>", "250")
	c.cmd("DATA", "354")
	fmt.Fprintf(c.Conn, "%s\r\n.\r\n", msg)
	c.expect("250")
	c.cmd("QUIT", "221")
	deadline := time.Now().Add(5 * time.Second)
	for !old.closed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("old generation not freed after its last session ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
