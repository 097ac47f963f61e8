package upstream

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
)

func TestXtext(t *testing.T) {
	for in, want := range map[string]string{
		"client.example": "client.example",
		"a+b=c":          "a+2Bb+3Dc",
		"a b":            "a+20b",
		"\r\n":           "+0D+0A",
		"\x00\x7f":       "+00+7F",
		"é":              "+C3+A9",
		"!~[]":           "!~[]",
		"":               "",
	} {
		if got := xtext(in); got != want {
			t.Errorf("xtext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdentityAttrs(t *testing.T) {
	tests := []struct {
		name string
		id   Identity
		want map[string]string
	}{
		{"complete", Identity{ClientIP: "192.0.2.7", ClientPort: 4242, ClientName: "mx.example.org", Helo: "mx.example.org", Proto: "ESMTP"},
			map[string]string{"ADDR": "192.0.2.7", "PORT": "4242", "NAME": "mx.example.org", "HELO": "mx.example.org", "PROTO": "ESMTP"}},
		{"unknown", Identity{},
			map[string]string{"ADDR": unavailable, "PORT": unavailable, "NAME": unavailable, "HELO": unavailable, "PROTO": unavailable}},
		{"ipv4-mapped and ipv6", Identity{ClientIP: "::ffff:192.0.2.8", Proto: "SMTP"},
			map[string]string{"ADDR": "192.0.2.8", "PORT": unavailable, "NAME": unavailable, "HELO": unavailable, "PROTO": "SMTP"}},
		{"ipv6", Identity{ClientIP: "2001:db8::1%eth0", ClientPort: 70000},
			map[string]string{"ADDR": "IPV6:2001:db8::1", "PORT": unavailable, "NAME": unavailable, "HELO": unavailable, "PROTO": unavailable}},
		// docs/TESTPLAN.md row 31: controls and spaces are never passed on.
		{"hostile", Identity{ClientIP: "not-an-ip", ClientName: "a b.example", Helo: "x\r\nMAIL FROM:<a@b>", Proto: "LMTP"},
			map[string]string{"ADDR": unavailable, "PORT": unavailable, "NAME": unavailable, "HELO": unavailable, "PROTO": unavailable}},
		{"too long", Identity{Helo: strings.Repeat("h", 256), ClientName: strings.Repeat("a", 64) + ".example"},
			map[string]string{"ADDR": unavailable, "PORT": unavailable, "NAME": unavailable, "HELO": unavailable, "PROTO": unavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := identityAttrs(tt.id)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// xclientMTA is a fake downstream offering XCLIENT with the given attribute
// names (Postfix lists them after the keyword).
func xclientMTA(t *testing.T, attrs string, opts ...fakemta.Option) *fakemta.MTA {
	return fakemta.Start(t, append([]fakemta.Option{fakemta.Extensions("PIPELINING", "8BITMIME", "XCLIENT "+attrs)}, opts...)...)
}

func xclientSMTP(addr string) *SMTP {
	return NewSMTP(SMTPConfig{Address: addr, Helo: "gw.test", XClient: true,
		ConnectTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second})
}

// XCLIENT goes after EHLO, with only the attributes the server listed, in
// xtext; the 220 it gets back restarts the session, so EHLO follows again,
// with the client's name, before any transaction.
func TestXClientSent(t *testing.T) {
	m := xclientMTA(t, "NAME ADDR PROTO HELO LOGIN")
	id := Identity{SessionID: "s1", ClientIP: "192.0.2.7", ClientPort: 4242, Helo: "client+1.example", Proto: "ESMTP"}
	c, err := xclientSMTP(m.Addr()).Open(testCtx(t), id)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := send(testCtx(t), c, "a@example.org", []string{"b@example.net"}, testMsg(1)); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Close()
	want := []string{
		"EHLO gw.test",
		"XCLIENT ADDR=192.0.2.7 NAME=[UNAVAILABLE] HELO=client+2B1.example PROTO=ESMTP",
		"EHLO client+1.example",
		"MAIL FROM:<a@example.org>",
	}
	if got := m.Commands(); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("commands %q, want them to start with %q", got, want)
	}
	delivered(t, m, 1)
}

// A value that would inject a command is sent as [UNAVAILABLE], never as
// text (docs/TESTPLAN.md row 31); the whole XCLIENT stays one line.
func TestXClientHostileValue(t *testing.T) {
	m := xclientMTA(t, "ADDR PORT NAME HELO PROTO")
	id := Identity{ClientIP: "192.0.2.7", ClientPort: 25, ClientName: "x\r\nRCPT TO:<evil@example.net>", Helo: "h\nQUIT", Proto: "ESMTP"}
	c, err := xclientSMTP(m.Addr()).Open(testCtx(t), id)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c.Close()
	cmds := m.Commands()
	if len(cmds) < 2 || cmds[1] != "XCLIENT ADDR=192.0.2.7 PORT=25 NAME=[UNAVAILABLE] HELO=[UNAVAILABLE] PROTO=ESMTP" {
		t.Fatalf("commands %q", cmds)
	}
	for _, l := range cmds {
		if strings.Contains(l, "evil") {
			t.Fatalf("injected command reached the server: %q", cmds)
		}
	}
	if n := count(cmds, "QUIT"); n != 1 {
		t.Fatalf("%d QUIT commands: %q", n, cmds)
	}
}

// Without XCLIENT on offer, Open fails as unreachable and says what to fix;
// no transaction is ever started as Sluice itself.
func TestXClientNotOffered(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions("PIPELINING", "8BITMIME", "XFORWARD NAME ADDR"))
	_, err := xclientSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.7"})
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, errNoXClient) {
		t.Fatalf("Open: %v, want ErrUnreachable and errNoXClient", err)
	}
	if !strings.Contains(err.Error(), "smtpd_authorized_xclient_hosts") {
		t.Errorf("error does not say what to fix: %v", err)
	}
	for _, l := range m.Commands() {
		if strings.HasPrefix(l, "XCLIENT") || strings.HasPrefix(l, "MAIL") {
			t.Fatalf("sent %q to a server without XCLIENT", l)
		}
	}
}

// Postfix answers 550 5.7.0 to an unauthorized XCLIENT; other refusals fail
// the open too.
func TestXClientRefused(t *testing.T) {
	for name, a := range map[string]fakemta.Action{
		"550":  fakemta.Reject(550, "5.7.0", "Error: insufficient authorization"),
		"421":  fakemta.Shutdown(),
		"250":  fakemta.Reply(250, "2.0.0", "Ok"), // not a greeting: refused too
		"drop": fakemta.Drop(),
	} {
		t.Run(name, func(t *testing.T) {
			m := xclientMTA(t, "ADDR", fakemta.On(fakemta.XClient, a))
			_, err := xclientSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.7"})
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Open: %v, want ErrUnreachable", err)
			}
			if name == "550" && !errors.Is(err, errNoXClient) {
				t.Errorf("550 not reported as missing authorization: %v", err)
			}
			if n := count(m.Commands(), "MAIL"); n != 0 {
				t.Fatalf("%d MAIL commands after a failed XCLIENT", n)
			}
		})
	}
}

// A client that said HELO is introduced with HELO after XCLIENT (Postfix
// records the protocol of that command); one whose name cannot be sent is
// introduced with ours.
func TestXClientHeloAfter(t *testing.T) {
	m := xclientMTA(t, "ADDR HELO PROTO")
	for _, id := range []Identity{
		{ClientIP: "192.0.2.7", Helo: "old.example", Proto: "SMTP"},
		{ClientIP: "192.0.2.8", Helo: "bad name", Proto: "ESMTP"},
	} {
		c, err := xclientSMTP(m.Addr()).Open(testCtx(t), id)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := send(testCtx(t), c, "a@example.org", []string{"b@example.net"}, testMsg(1)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	var greet []string
	for _, l := range m.Commands() {
		if strings.HasPrefix(l, "HELO") || strings.HasPrefix(l, "EHLO") || strings.HasPrefix(l, "XCLIENT") {
			greet = append(greet, l)
		}
	}
	want := []string{
		"EHLO gw.test", "XCLIENT ADDR=192.0.2.7 HELO=old.example PROTO=SMTP", "HELO old.example",
		"EHLO gw.test", "XCLIENT ADDR=192.0.2.8 HELO=[UNAVAILABLE] PROTO=ESMTP", "EHLO gw.test",
	}
	if !slices.Equal(greet, want) {
		t.Fatalf("greetings %q, want %q", greet, want)
	}
}

// The server must accept the EHLO after XCLIENT, or the open fails.
func TestXClientEhloAfterRefused(t *testing.T) {
	m := xclientMTA(t, "ADDR", fakemta.OnNth(fakemta.Ehlo, 2, fakemta.Tempfail(421, "4.3.2", "Going down")))
	_, err := xclientSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.7"})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "EHLO after XCLIENT") {
		t.Fatalf("Open: %v", err)
	}
}

// XCLIENT connections are never pooled: each session gets its own, and the
// connection a session ends is closed, not kept for another client.
func TestPoolBypassedForXClient(t *testing.T) {
	m := xclientMTA(t, "ADDR HELO")
	p := NewPool(xclientSMTP(m.Addr()), PoolOptions{})
	t.Cleanup(func() { p.Close() })
	ctx := testCtx(t)
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		c, err := p.Open(ctx, Identity{SessionID: ip, ClientIP: ip, Helo: "c.example"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, pooled := c.(*pooledConn); pooled {
			t.Fatal("an XCLIENT connection was wrapped for pooling")
		}
		if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(i)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if p.idleLen() != 0 {
			t.Fatal("an XCLIENT connection went back to the pool")
		}
	}
	if m.Conns() != 2 {
		t.Errorf("%d connections for 2 XCLIENT sessions", m.Conns())
	}
	var addrs []string
	for _, l := range m.Commands() {
		if strings.HasPrefix(l, "XCLIENT") {
			addrs = append(addrs, l)
		}
	}
	want := []string{"XCLIENT ADDR=192.0.2.1 HELO=c.example", "XCLIENT ADDR=192.0.2.2 HELO=c.example"}
	if !slices.Equal(addrs, want) {
		t.Errorf("XCLIENT commands %q, want %q", addrs, want)
	}
}

// A line that would pass the command length limit gives up the free-text
// values first.
func TestXClientLineLength(t *testing.T) {
	attrs := identityAttrs(Identity{ClientIP: "192.0.2.7", Helo: strings.Repeat("+", 255), ClientName: "mx.example.org"})
	line := xclientLine([]string{"ADDR", "NAME", "HELO"}, attrs)
	if line != "XCLIENT ADDR=192.0.2.7 NAME=mx.example.org HELO=[UNAVAILABLE]" {
		t.Fatalf("line %q", line)
	}
}
