package smtpd

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// originBackend wraps fakeBackend so that its sessions record every Origin.
type originBackend struct {
	*fakeBackend
	mu      sync.Mutex
	origins []Origin
}

type originSession struct {
	Session
	b *originBackend
}

func (b *originBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	s, r := b.fakeBackend.NewSession(ctx, c)
	if s == nil {
		return nil, r
	}
	return &originSession{Session: s, b: b}, r
}

func (s *originSession) Origin(ctx context.Context, o Origin) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.origins = append(s.b.origins, o)
}

func (b *originBackend) Origins() []Origin {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.origins)
}

func startXForwardServer(t *testing.T, peers ...string) (*testServer, *originBackend) {
	t.Helper()
	b := &originBackend{fakeBackend: newFakeBackend()}
	b.data = accept250
	var cfg Config
	for _, p := range peers {
		cfg.XForwardPeers = append(cfg.XForwardPeers, netip.MustParsePrefix(p))
	}
	ts := startServerWith(t, cfg, b, b.fakeBackend)
	return ts, b
}

// An authorized peer sees XFORWARD in the EHLO reply; its attributes,
// decoded, accumulate over several commands and reach the session before
// MAIL; they are forgotten when the transaction ends.
func TestXForwardAuthorized(t *testing.T) {
	ts, b := startXForwardServer(t, "127.0.0.0/8")
	c := ts.greeted(t)
	r := c.cmd("EHLO postfix.example", 250, "")
	if !slices.Contains(r.Lines, "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT") {
		t.Fatalf("EHLO reply lacks XFORWARD: %q", r.Lines)
	}
	c.cmd("XFORWARD NAME=client.example ADDR=192.0.2.7 PORT=4242", 250, "2.0.0")
	c.cmd("XFORWARD PROTO=ESMTP HELO=client+2Bx.example IDENT=4XyZ1 SOURCE=REMOTE", 250, "2.0.0")
	c.toData()
	c.cmd("Subject: x\r\n\r\nbody\r\n.", 250, "")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")

	o := b.Origins()
	if len(o) != 2 {
		t.Fatalf("%d origins", len(o))
	}
	want := map[string]string{"NAME": "client.example", "ADDR": "192.0.2.7", "PORT": "4242", "PROTO": "ESMTP",
		"HELO": "client+x.example", "IDENT": "4XyZ1", "SOURCE": "REMOTE"}
	if !maps.Equal(o[0].XForward, want) || o[0].Helo != "postfix.example" || o[0].Proto != "ESMTP" {
		t.Errorf("first origin %+v, want XForward %v", o[0], want)
	}
	if o[1].XForward != nil {
		t.Errorf("XFORWARD attributes outlived their transaction: %v", o[1].XForward)
	}
}

// docs/TESTPLAN.md row 28: a peer outside the list does not see XFORWARD, and its
// XFORWARD is refused with 550 5.7.0 and changes nothing.
func TestXForwardUnauthorized(t *testing.T) {
	for name, peers := range map[string][]string{"none": nil, "other network": {"10.0.0.0/8", "127.0.0.2/32"}} {
		t.Run(name, func(t *testing.T) {
			ts, b := startXForwardServer(t, peers...)
			c := ts.greeted(t)
			r := c.cmd("EHLO postfix.example", 250, "")
			if strings.Contains(strings.Join(r.Lines, "|"), "XFORWARD") {
				t.Fatalf("XFORWARD offered to an unauthorized peer: %q", r.Lines)
			}
			c.cmd("XFORWARD ADDR=192.0.2.7 NAME=spoofed.example", 550, "5.7.0")
			c.cmd("XCLIENT ADDR=192.0.2.7 NAME=spoofed.example", 550, "5.7.0")
			c.cmd("MAIL FROM:<a@example.org>", 250, "")
			o := b.Origins()
			if len(o) != 1 || o[0].XForward != nil {
				t.Fatalf("attributes changed by an unauthorized XFORWARD: %+v", o)
			}
		})
	}
}

// XCLIENT is refused even from an XFORWARD peer: it would change the
// identity access decisions use, which Sluice never lets a client do.
func TestXClientRefusedFromPeer(t *testing.T) {
	ts, b := startXForwardServer(t, "127.0.0.1/32")
	c := ts.ehloed(t)
	c.cmd("XCLIENT ADDR=192.0.2.7", 550, "5.7.0")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	if o := b.Origins(); len(o) != 1 || o[0].XForward != nil {
		t.Fatalf("XCLIENT changed the origin: %+v", o)
	}
}

// XFORWARD is refused inside a transaction (503); RSET and a new EHLO
// forget attributes already sent.
func TestXForwardTransactionState(t *testing.T) {
	ts, b := startXForwardServer(t, "127.0.0.1/32")
	c := ts.inMail(t)
	c.cmd("XFORWARD ADDR=192.0.2.7", 503, "5.5.1")
	c.cmd("RSET", 250, "")
	c.cmd("XFORWARD ADDR=192.0.2.8", 250, "")
	c.cmd("RSET", 250, "")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	c.cmd("RSET", 250, "")
	c.cmd("XFORWARD ADDR=192.0.2.9", 250, "")
	c.cmd("HELO postfix.example", 250, "")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	o := b.Origins()
	if len(o) != 3 {
		t.Fatalf("%d origins", len(o))
	}
	for i, x := range o {
		if x.XForward != nil {
			t.Errorf("origin %d carries %v", i, x.XForward)
		}
	}
	if o[2].Proto != "SMTP" || o[2].Helo != "postfix.example" {
		t.Errorf("after HELO: %+v", o[2])
	}
}

// docs/TESTPLAN.md row 31: values with CR, LF, space or other controls once
// decoded, malformed xtext, unknown attributes and values of the wrong form
// are refused with 501, and the whole command is ignored.
func TestXForwardBadValues(t *testing.T) {
	for _, arg := range []string{
		"",
		"ADDR",
		"=x",
		"FOO=bar",
		"HELO=a+0D+0ARCPT",
		"HELO=a+0Ab",
		"HELO=a+20b",
		"HELO=a+09b",
		"HELO=+00",
		"HELO=a+7F",
		"HELO=caf+C3+A9",
		"HELO=a+4",
		"HELO=a+ZZ",
		"HELO=a=b",
		"HELO=" + strings.Repeat("h", 256),
		"IDENT=",
		"NAME=a..b",
		"NAME=a+2Fb",
		"ADDR=not-an-ip",
		"ADDR=IPV6:192.0.2.1",
		"PORT=0",
		"PORT=70000",
		"PROTO=E+2DSMTP",
		"SOURCE=ELSEWHERE",
	} {
		t.Run(arg, func(t *testing.T) {
			ts, b := startXForwardServer(t, "127.0.0.1/32")
			c := ts.ehloed(t)
			line := "XFORWARD ADDR=192.0.2.1 " + arg
			if arg == "" {
				line = "XFORWARD"
			}
			c.cmd(line, 501, "5.5.4")
			c.cmd("MAIL FROM:<a@example.org>", 250, "")
			if o := b.Origins(); len(o) != 1 || o[0].XForward != nil {
				t.Fatalf("a refused XFORWARD changed attributes: %+v", o)
			}
		})
	}
}

// Postfix's values for unknown attributes and its IPv6 form are accepted.
func TestXForwardPostfixForms(t *testing.T) {
	ts, b := startXForwardServer(t, "127.0.0.1/32")
	c := ts.ehloed(t)
	c.cmd("XFORWARD NAME=[TEMPUNAVAIL] ADDR=IPV6:2001:db8::1 PORT=[UNAVAILABLE] HELO=[UNAVAILABLE] source=local", 250, "")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	want := map[string]string{"NAME": "[TEMPUNAVAIL]", "ADDR": "IPV6:2001:db8::1", "PORT": "[UNAVAILABLE]", "HELO": "[UNAVAILABLE]", "SOURCE": "local"}
	if o := b.Origins(); len(o) != 1 || !maps.Equal(o[0].XForward, want) {
		t.Fatalf("origins %+v, want %v", o, want)
	}
}

func TestXtextDecode(t *testing.T) {
	for in, want := range map[string]string{"a+2Bb+3Dc": "a+b=c", "+41+61": "Aa", "+4a": "J", "plain": "plain"} {
		if got, ok := decodeXtext(in); !ok || got != want {
			t.Errorf("decodeXtext(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"+", "+4", "+G0", "a b", "a=b", "\x01"} {
		if got, ok := decodeXtext(in); ok {
			t.Errorf("decodeXtext(%q) = %q, accepted", in, got)
		}
	}
}
