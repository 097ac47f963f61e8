package upstream

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/internal/testcert"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// tlsSMTP is an upstream with the given STARTTLS mode and client config.
func tlsSMTP(addr string, mode TLSMode, cfg *tls.Config) *SMTP {
	s := newTestSMTP(addr, 2*time.Second)
	s.cfg.TLS, s.cfg.TLSConfig = mode, cfg
	s.tls = clientTLS(s.cfg)
	return s
}

// deliverOne opens, sends one message and closes.
func deliverOne(t *testing.T, up Upstream) error {
	t.Helper()
	ctx := testCtx(t)
	c, err := up.Open(ctx, Identity{SessionID: t.Name()})
	if err != nil {
		return err
	}
	defer c.Close()
	return send(ctx, c, "a@example.org", []string{"b@example.net"}, rawMsg("Subject: tls\r\n\r\nbody\r\n"))
}

// wantTLSRefused checks docs/TESTPLAN.md row 15: Open failed with the 4.7.x reply
// for the client, and nothing of a transaction went out in plaintext.
func wantTLSRefused(t *testing.T, err error, m *fakemta.MTA, enhanced string) {
	t.Helper()
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want an unreachable downstream", err)
	}
	r := wantReply(t, err, 451, enhanced)
	if want := map[string]*smtp.Reply{"4.7.4": smtp.ReplyTLSUnavailable, "4.7.5": smtp.ReplyTLSFailed}[enhanced]; r != want {
		t.Errorf("reply %q, want the shared reply %q", r.Format(), want.Format())
	}
	for _, cmd := range m.Commands() {
		if verb, _, _ := strings.Cut(cmd, " "); verb != "EHLO" && verb != "STARTTLS" {
			t.Errorf("sent %q without TLS", cmd)
		}
	}
	if n := len(m.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestSTARTTLSRequired(t *testing.T) {
	ca := testcert.NewCA(t, "Downstream CA")
	cases := []struct {
		name   string
		cert   []string // names on the server certificate
		server string   // TLSConfig.ServerName; "" for the host of the address
	}{
		{"named", []string{"mx.test"}, "mx.test"},
		{"address host", []string{"127.0.0.1"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fakemta.Start(t, fakemta.TLS(ca.Issue(tc.cert...).Config()))
			up := tlsSMTP(m.Addr(), TLSRequired, &tls.Config{RootCAs: ca.Pool(), ServerName: tc.server})
			if err := deliverOne(t, up); err != nil {
				t.Fatal(err)
			}
			msgs := m.Messages()
			if len(msgs) != 1 || !msgs[0].TLS {
				t.Fatalf("message not received over TLS: %+v", msgs)
			}
			// EHLO again after the handshake (RFC 3207 §4.2).
			want := []string{"EHLO gw.test", "STARTTLS", "EHLO gw.test", "MAIL FROM:<a@example.org>"}
			if got := m.Commands(); len(got) < 4 || !slices.Equal(got[:4], want) {
				t.Errorf("commands %q, want %q first", got, want)
			}
		})
	}
}

func TestSTARTTLSRequiredRefusals(t *testing.T) {
	ca := testcert.NewCA(t, "Downstream CA")
	rogue := testcert.NewCA(t, "Rogue CA")
	verify := &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.test"}
	cases := []struct {
		name     string
		opts     []fakemta.Option
		enhanced string
	}{
		// STARTTLS stripped from the EHLO reply.
		{"not offered", []fakemta.Option{fakemta.RawMode()}, "4.7.4"},
		{"refused", []fakemta.Option{fakemta.TLS(ca.Issue("mx.test").Config()),
			fakemta.On(fakemta.StartTLS, fakemta.Tempfail(454, "4.7.0", "TLS not available"))}, "4.7.5"},
		{"unknown CA", []fakemta.Option{fakemta.TLS(rogue.Issue("mx.test").Config())}, "4.7.5"},
		{"wrong name", []fakemta.Option{fakemta.TLS(ca.Issue("other.test").Config())}, "4.7.5"},
		{"handshake fails", []fakemta.Option{fakemta.Extensions("8BITMIME", "STARTTLS")}, "4.7.5"},
		// docs/TESTPLAN.md row 16: a reply injected after the 220, which a naive
		// client would read as the server's answer to its next command
		// inside TLS.
		{"injected reply", []fakemta.Option{fakemta.TLS(ca.Issue("mx.test").Config()),
			fakemta.On(fakemta.StartTLS, fakemta.Send("220 2.0.0 Go ahead\r\n250-injected\r\n250 STARTTLS\r\n"))}, "4.7.5"},
		{"dropped", []fakemta.Option{fakemta.TLS(ca.Issue("mx.test").Config()), fakemta.On(fakemta.StartTLS, fakemta.Drop())}, "4.7.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fakemta.Start(t, tc.opts...)
			err := deliverOne(t, tlsSMTP(m.Addr(), TLSRequired, verify))
			wantTLSRefused(t, err, m, tc.enhanced)
		})
	}
}

func TestSTARTTLSRequiredHandshakeDeadline(t *testing.T) {
	// A server that says 220 to STARTTLS and then nothing: the handshake
	// ends at the command timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, "220 silent.test ESMTP\r\n")
		br.ReadString('\n') // EHLO
		io.WriteString(c, "250-silent.test\r\n250 STARTTLS\r\n")
		br.ReadString('\n') // STARTTLS
		io.WriteString(c, "220 2.0.0 Go ahead\r\n")
		io.Copy(io.Discard, br) // the ClientHello, unanswered
	}()
	up := tlsSMTP(ln.Addr().String(), TLSRequired, nil)
	up.cfg.CommandTimeout = shortTimeout
	start := time.Now()
	_, err = up.Open(testCtx(t), Identity{})
	wantReply(t, err, 451, "4.7.5")
	if d := time.Since(start); d < shortTimeout || d > 4*shortTimeout {
		t.Errorf("took %v, want the command timeout %v", d, shortTimeout)
	}
}

func TestSTARTTLSOpportunistic(t *testing.T) {
	ca := testcert.NewCA(t, "Downstream CA")
	cases := []struct {
		name  string
		opts  []fakemta.Option
		tls   bool // the message went over TLS
		conns int  // connections made
	}{
		{"not offered", []fakemta.Option{fakemta.RawMode()}, false, 1},
		// Not verified: any certificate will do.
		{"unverified certificate", []fakemta.Option{fakemta.TLS(ca.Issue("whatever.test").Config())}, true, 1},
		{"refused", []fakemta.Option{fakemta.TLS(ca.Issue("mx.test").Config()),
			fakemta.On(fakemta.StartTLS, fakemta.Tempfail(454, "4.7.0", "TLS not available"))}, false, 1},
		// A failed handshake leaves the connection unusable: a new one
		// delivers in plaintext.
		{"handshake fails", []fakemta.Option{fakemta.Extensions("8BITMIME", "STARTTLS")}, false, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := fakemta.Start(t, tc.opts...)
			if err := deliverOne(t, tlsSMTP(m.Addr(), TLSOpportunistic, nil)); err != nil {
				t.Fatal(err)
			}
			msgs := m.Messages()
			if len(msgs) != 1 || msgs[0].TLS != tc.tls {
				t.Fatalf("messages %+v, want one with TLS %t", msgs, tc.tls)
			}
			if n := m.Conns(); n != tc.conns {
				t.Errorf("%d connections, want %d", n, tc.conns)
			}
		})
	}
}

func TestSTARTTLSOpportunisticInjection(t *testing.T) {
	// Bytes after the 220 put the dialogue out of step: no delivery on
	// that connection, and no silent fallback either.
	m := fakemta.Start(t, fakemta.TLS(testcert.NewCA(t, "CA").Issue("mx.test").Config()),
		fakemta.On(fakemta.StartTLS, fakemta.Send("220 2.0.0 Go ahead\r\n250 2.0.0 injected\r\n")))
	err := deliverOne(t, tlsSMTP(m.Addr(), TLSOpportunistic, nil))
	if classify(err) != unreachable || !errors.Is(err, errUnsolicited) {
		t.Fatalf("got %v (%v), want unreachable after unsolicited data", classify(err), err)
	}
	if n := len(m.Messages()); n != 0 || slices.ContainsFunc(m.Commands(), func(c string) bool { return strings.HasPrefix(c, "MAIL") }) {
		t.Fatalf("transaction sent after an injected reply: %q", m.Commands())
	}
}

func TestSTARTTLSPooled(t *testing.T) {
	ca := testcert.NewCA(t, "Downstream CA")
	m := fakemta.Start(t, fakemta.TLS(ca.Issue("mx.test").Config()))
	p := NewPool(tlsSMTP(m.Addr(), TLSRequired, &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.test"}), PoolOptions{})
	t.Cleanup(func() { p.Close() })
	for n := range 3 {
		if err := session(testCtx(t), p, n); err != nil {
			t.Fatalf("session %d: %v", n, err)
		}
	}
	delivered(t, m, 0, 1, 2)
	for _, msg := range m.Messages() {
		if !msg.TLS {
			t.Error("message without TLS")
		}
	}
	if n, starts := m.Conns(), count(m.Commands(), "STARTTLS"); n != 1 || starts != 1 {
		t.Errorf("%d connections and %d STARTTLS for 3 sessions, want one of each", n, starts)
	}
}

func TestClientTLSConfig(t *testing.T) {
	if clientTLS(SMTPConfig{Address: "mx.test:25"}) != nil {
		t.Error("TLSNone has a TLS configuration")
	}
	base := &tls.Config{MinVersion: tls.VersionTLS10}
	c := clientTLS(SMTPConfig{Address: "[::1]:25", TLS: TLSRequired, TLSConfig: base})
	if c.ServerName != "::1" || c.MinVersion != tls.VersionTLS12 || c.InsecureSkipVerify {
		t.Errorf("required: ServerName %q MinVersion %x InsecureSkipVerify %t", c.ServerName, c.MinVersion, c.InsecureSkipVerify)
	}
	if base.ServerName != "" || base.MinVersion != tls.VersionTLS10 {
		t.Error("the caller's configuration was modified")
	}
	c = clientTLS(SMTPConfig{Address: "mx.test:25", TLS: TLSOpportunistic, TLSConfig: &tls.Config{ServerName: "sni.test"}})
	if c.ServerName != "sni.test" || !c.InsecureSkipVerify {
		t.Errorf("opportunistic: ServerName %q InsecureSkipVerify %t", c.ServerName, c.InsecureSkipVerify)
	}
}
