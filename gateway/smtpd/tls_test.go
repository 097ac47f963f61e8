package smtpd

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a server TLS config and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		DNSNames:     []string{"mx.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// upgrade runs the client side of the handshake.
func (c *client) upgrade(pool *x509.CertPool) {
	c.T.Helper()
	tc := tls.Client(c.Conn, &tls.Config{ServerName: "mx.test", RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		c.T.Fatalf("handshake: %v", err)
	}
	c.Conn = tc
	c.R = bufio.NewReader(tc)
}

// TestSTARTTLSInjection is docs/TESTPLAN.md row 13 (CVE-2011-0411).
func TestSTARTTLSInjection(t *testing.T) {
	cfg, pool := selfSigned(t)
	ts := startServer(t, Config{TLSConfig: cfg}, newFakeBackend())
	c := ts.greeted(t)
	r := c.cmd("EHLO client.test", 250, "")
	if !slices.Contains(r.Lines, "STARTTLS") {
		t.Fatalf("STARTTLS not offered: %q", r.Lines)
	}
	if r := c.cmd("HELP", 214, ""); !strings.Contains(r.Lines[0], "STARTTLS") {
		t.Fatalf("HELP %q", r.Lines)
	}
	c.Write("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
	c.expect(220, "2.0.0")
	c.upgrade(pool)
	// EHLO is required again: the injected MAIL left no state either.
	c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1")
	r = c.cmd("EHLO client.test", 250, "")
	if slices.Contains(r.Lines, "STARTTLS") {
		t.Fatalf("STARTTLS offered inside TLS: %q", r.Lines)
	}
	c.cmd("STARTTLS", 503, "5.5.1")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	c.cmd("QUIT", 221, "")
	ts.backend.waitClosed(t, 1)
	calls := ts.backend.Calls()
	if strings.Contains(calls, "injected") {
		t.Fatalf("injected command ran: %q", calls)
	}
	want := "helo client.test tls=false|reset|helo client.test tls=true|mail <a@example.org> |close"
	if calls != want {
		t.Fatalf("calls %q, want %q", calls, want)
	}
}

// TestSTARTTLSHandshakeTimeout is docs/TESTPLAN.md row 14.
func TestSTARTTLSHandshakeTimeout(t *testing.T) {
	cfg, _ := selfSigned(t)
	ts := startServer(t, Config{TLSConfig: cfg, HandshakeTimeout: 200 * time.Millisecond}, newFakeBackend())
	for _, garbage := range []string{"", "GET / HTTP/1.0\r\n\r\n"} {
		c := ts.ehloed(t)
		c.cmd("STARTTLS", 220, "")
		c.Write(garbage)
		start := time.Now()
		c.expectClosed()
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("handshake not bounded: %v", d)
		}
	}
	ts.backend.waitClosed(t, 2)
}
