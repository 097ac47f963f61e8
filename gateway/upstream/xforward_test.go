package upstream

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
)

const postfixXForward = "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"

func xforwardSMTP(addr string) *SMTP {
	return NewSMTP(SMTPConfig{Address: addr, Helo: "gw.test", XForward: true,
		ConnectTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second})
}

// lines returns the commands starting with prefix.
func lines(cmds []string, prefix string) []string {
	var out []string
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// XFORWARD goes before every MAIL, since the server forgets it at the end of
// each transaction; forwarded attributes win over derived ones, and only the
// offered ones are sent.
func TestXForwardBeforeEachMail(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions("PIPELINING", "XFORWARD NAME ADDR PROTO HELO IDENT"))
	id := Identity{SessionID: "s", ClientIP: "127.0.0.1", ClientPort: 40000, Helo: "postfix.example", Proto: "ESMTP",
		Forwarded: map[string]string{"ADDR": "127.0.0.2", "NAME": "[TEMPUNAVAIL]", "IDENT": "4XyZ12", "SOURCE": "REMOTE"}}
	c, err := xforwardSMTP(m.Addr()).Open(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	for i := range 2 {
		if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	want := "XFORWARD NAME=[TEMPUNAVAIL] ADDR=127.0.0.2 PROTO=ESMTP HELO=postfix.example IDENT=4XyZ12"
	cmds := m.Commands()
	var seq []string
	for _, l := range cmds {
		if strings.HasPrefix(l, "XFORWARD") || strings.HasPrefix(l, "MAIL") {
			seq = append(seq, l)
		}
	}
	if !slices.Equal(seq, []string{want, "MAIL FROM:<a@example.org>", want, "MAIL FROM:<a@example.org>"}) {
		t.Fatalf("commands %q", cmds)
	}
	delivered(t, m, 0, 1)
}

// A server that does not offer XFORWARD gets plain MAIL.
func TestXForwardNotOffered(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions("PIPELINING"))
	c, err := xforwardSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(testCtx(t), c, "a@example.org", []string{"b@example.net"}, testMsg(1)); err != nil {
		t.Fatal(err)
	}
	if l := lines(m.Commands(), "XFORWARD"); len(l) != 0 {
		t.Fatalf("XFORWARD sent without being offered: %q", l)
	}
}

// Without the policy switch nothing is sent, even when offered.
func TestXForwardOff(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions(postfixXForward))
	c := open(t, m, 2*time.Second)
	if err := send(testCtx(t), c, "a@example.org", []string{"b@example.net"}, testMsg(1)); err != nil {
		t.Fatal(err)
	}
	if l := lines(m.Commands(), "XFORWARD"); len(l) != 0 {
		t.Fatalf("XFORWARD sent while off: %q", l)
	}
}

// A refused XFORWARD fails the transaction with 451 4.3.0 before MAIL; the
// connection stays usable.
func TestXForwardRefused(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions(postfixXForward),
		fakemta.OnNth(fakemta.XForward, 1, fakemta.Reject(550, "5.7.0", "Error: insufficient authorization")))
	c, err := xforwardSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testCtx(t)
	wantReply(t, c.Mail(ctx, "a@example.org", ""), 451, "4.3.0")
	if n := count(m.Commands(), "MAIL"); n != 0 {
		t.Fatalf("MAIL sent after a refused XFORWARD")
	}
	if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(2)); err != nil {
		t.Fatalf("connection unusable after a refused XFORWARD: %v", err)
	}
	delivered(t, m, 2)
}

// A 421 to XFORWARD ends the connection like any 421.
func TestXForward421(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions(postfixXForward), fakemta.On(fakemta.XForward, fakemta.Shutdown()))
	c, err := xforwardSMTP(m.Addr()).Open(testCtx(t), Identity{ClientIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantReply(t, c.Mail(testCtx(t), "a@example.org", ""), 421, "4.3.2")
	if err := c.Reset(testCtx(t)); err == nil {
		t.Fatal("connection still used after 421")
	}
}

// Hostile forwarded values never reach the server as text (docs/TESTPLAN.md row
// 31), and long values are spread over several commands that each fit.
func TestXForwardLines(t *testing.T) {
	offered := attrSet("NAME ADDR PROTO HELO SOURCE PORT IDENT")
	id := Identity{ClientIP: "192.0.2.1", Forwarded: map[string]string{"IDENT": "a\r\nRSET", "SOURCE": "REMOTE x"}}
	got := xforwardLines(offered, id)
	want := []string{"XFORWARD NAME=[UNAVAILABLE] ADDR=192.0.2.1 PORT=[UNAVAILABLE] PROTO=[UNAVAILABLE] HELO=[UNAVAILABLE] IDENT=[UNAVAILABLE] SOURCE=[UNAVAILABLE]"}
	if !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}

	long := strings.Repeat("+", 130) // 390 octets of xtext
	id = Identity{ClientIP: "192.0.2.1", ClientName: strings.Repeat("n", 60) + "." + strings.Repeat("m", 60) + ".example", Helo: long}
	got = xforwardLines(offered, id)
	if len(got) < 2 {
		t.Fatalf("one line for long values: %q", got)
	}
	all := strings.Join(got, " ")
	for _, l := range got {
		if len(l) > maxCommandLine {
			t.Errorf("line of %d octets", len(l))
		}
	}
	for _, a := range []string{"NAME=" + id.ClientName, "ADDR=192.0.2.1", "HELO=" + strings.Repeat("+2B", 130)} {
		if !strings.Contains(all, a) {
			t.Errorf("%s missing from %q", a, got)
		}
	}

	// A single value too long for any line goes as [UNAVAILABLE].
	id.Helo = strings.Repeat("+", 200) // 600 octets of xtext
	if got := strings.Join(xforwardLines(offered, id), " "); !strings.Contains(got, "HELO=[UNAVAILABLE]") {
		t.Errorf("oversized HELO passed on: %q", got)
	}
}

// A pooled connection sends XFORWARD for the session that holds it now.
func TestPoolRebindsXForward(t *testing.T) {
	m := fakemta.Start(t, fakemta.Extensions(postfixXForward))
	p := NewPool(xforwardSMTP(m.Addr()), PoolOptions{})
	t.Cleanup(func() { p.Close() })
	ctx := testCtx(t)
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		c, err := p.Open(ctx, Identity{SessionID: ip, ClientIP: ip})
		if err != nil {
			t.Fatal(err)
		}
		if err := send(ctx, c, "a@example.org", []string{"b@example.net"}, testMsg(i)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if m.Conns() != 1 {
		t.Fatalf("%d connections: XFORWARD connections should be pooled", m.Conns())
	}
	var addrs []string
	for _, l := range lines(m.Commands(), "XFORWARD") {
		for _, f := range strings.Fields(l) {
			if strings.HasPrefix(f, "ADDR=") {
				addrs = append(addrs, f)
			}
		}
	}
	if !slices.Equal(addrs, []string{"ADDR=192.0.2.1", "ADDR=192.0.2.2"}) {
		t.Fatalf("XFORWARD addresses %q", addrs)
	}
}
