package bridge

import (
	"fmt"
	"io"
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
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

// startXForwardGateway serves on 127.0.0.1 with 127.0.0.1 allowed to send
// XFORWARD, as behind Postfix's smtpd_proxy_filter.
func startXForwardGateway(t *testing.T, up upstream.Upstream, entries ...filter.Entry) string {
	t.Helper()
	addr, _ := startProxyFilter(t, up, entries...)
	return addr
}

// startProxyFilter is startXForwardGateway returning the generation too. Its
// policy is in proxy-filter mode: upstream xforward, xforward_peers
// 127.0.0.1.
func startProxyFilter(t *testing.T, up upstream.Upstream, entries ...filter.Entry) (string, *Generation) {
	t.Helper()
	peers := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	gen := &Generation{
		Policy: &policy.Policy{Listen: policy.Listen{XForwardPeers: peers},
			Upstream: policy.Upstream{Address: "127.0.0.1:10025", XForward: true}},
		chain:    &filter.Chain{Entries: entries},
		upstream: up,
		hostname: "sluice.test",
		log:      slog.New(slog.DiscardHandler),
		obs:      nopObserver{},
		limits:   message.Limits{MaxHeaderBytes: 64 << 10, MaxHeaderFields: 1000},
	}
	return serveGeneration(t, gen, peers).addr, gen
}

// XFORWARD from Postfix replaces the client in what plugins see and in what
// goes downstream, for its transaction only; the next transaction, without
// XFORWARD, is the peer's own, on a new downstream connection.
func TestXForwardReachesPluginsAndDownstream(t *testing.T) {
	mta := fakemta.Start(t, fakemta.Extensions("PIPELINING", "8BITMIME", "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"))
	up := upstream.NewSMTP(upstream.SMTPConfig{Address: mta.Addr(), Helo: "sluice.test", XForward: true,
		ConnectTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second})
	var mu sync.Mutex
	var seen []string
	spy := &hook{phase: filter.Mail, fn: func(st *filter.State) (filter.Verdict, error) {
		mu.Lock()
		defer mu.Unlock()
		s := st.Session
		seen = append(seen, s.ClientIP.String()+" "+s.Helo+" "+s.ClientName)
		return filter.Continue, nil
	}}
	addr := startXForwardGateway(t, up, filter.Entry{Name: "spy", Plugin: spy})

	c := dial(t, addr) // EHLO client.test
	c.cmd("XFORWARD NAME=mx.origin.example ADDR=192.0.2.7 PORT=4242 PROTO=ESMTP HELO=origin.example", "250")
	c.cmd("XFORWARD IDENT=4XyZ1 SOURCE=REMOTE", "250")
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("final reply %q", got)
	}
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("final reply %q", got)
	}

	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	want := []string{"192.0.2.7 origin.example mx.origin.example", "127.0.0.1 client.test "}
	if !slices.Equal(got, want) {
		t.Errorf("plugins saw %q, want %q", got, want)
	}
	var xf []string
	for _, l := range mta.Commands() {
		if strings.HasPrefix(l, "XFORWARD") {
			xf = append(xf, l)
		}
	}
	if len(xf) != 2 ||
		xf[0] != "XFORWARD NAME=mx.origin.example ADDR=192.0.2.7 PORT=4242 PROTO=ESMTP HELO=origin.example IDENT=4XyZ1 SOURCE=REMOTE" ||
		!strings.Contains(xf[1], "ADDR=127.0.0.1 ") || !strings.Contains(xf[1], "HELO=client.test") || strings.Contains(xf[1], "IDENT") {
		t.Errorf("downstream XFORWARD %q", xf)
	}
	if mta.Conns() != 2 {
		t.Errorf("%d downstream connections: a changed identity must not reuse the connection", mta.Conns())
	}
}

// Proxy-filter mode: a client that connects to Sluice's port directly,
// rather than through Postfix's public smtpd (an xforward_peer), would be
// relayed by the after-filter listener, which trusts Sluice. It gets a
// 554 5.7.1 greeting and the connection is closed, before any plugin runs
// or any downstream connection is made; Postfix itself is served.
func TestProxyFilterRefusesOutsiders(t *testing.T) {
	mta := fakemta.Start(t, fakemta.Extensions("PIPELINING", "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"))
	up := upstream.NewSMTP(upstream.SMTPConfig{Address: mta.Addr(), Helo: "sluice.test", XForward: true,
		ConnectTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second})
	var called atomic.Bool
	spy := &hook{phase: filter.Connect, fn: func(*filter.State) (filter.Verdict, error) { called.Store(true); return filter.Continue, nil }}
	addr, gen := startProxyFilter(t, up, filter.Entry{Name: "spy", Plugin: spy})

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}, Timeout: 2 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "EHLO outsider.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@foreign.example>\r\nDATA\r\nhi\r\n.\r\n")
	all, err := io.ReadAll(conn) // until Sluice closes
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, all)
	}
	if want := "554 5.7.1 Client host rejected: this port accepts only Postfix's proxy filter connections\r\n"; string(all) != want {
		t.Fatalf("outsider got %q, want only %q", all, want)
	}
	if called.Load() {
		t.Error("a plugin ran for a refused client")
	}
	if n := mta.Conns(); n != 0 {
		t.Errorf("%d connections reached the downstream", n)
	}
	if n := gen.refs.Load(); n != 1 {
		t.Errorf("generation references = %d after the refusal, want 1", n)
	}

	c := dial(t, addr) // from 127.0.0.1, the peer
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("the peer's transaction got %q", got)
	}
}
