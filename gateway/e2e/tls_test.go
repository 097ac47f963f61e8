package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
	"github.com/sluice-mail/sluice/gateway/internal/testcert"
)

// tlsPolicy serves STARTTLS with the given certificate files and stores
// mail in maildir.
func tlsPolicy(cert, key, maildir string) string {
	return fmt.Sprintf(`listen {
  address  = "%%LISTEN%%"
  hostname = "mx.sluice.test"
  tls {
    cert_file = %q
    key_file  = %q
  }
}
upstream { maildir = %q }
`, cert, key, maildir)
}

// startTLS says STARTTLS on an EHLOed client and runs the handshake,
// trusting pool for mx.sluice.test. It returns the server's certificate.
func startTLS(s *smtptest.Client, pool *x509.CertPool) *x509.Certificate {
	s.T.Helper()
	s.Cmd("STARTTLS", "220")
	tc := tls.Client(s.Conn, &tls.Config{RootCAs: pool, ServerName: "mx.sluice.test"})
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.T.Fatalf("handshake: %v", err)
	}
	s.Conn, s.R = tc, bufio.NewReader(tc)
	return tc.ConnectionState().PeerCertificates[0]
}

// Inbound STARTTLS through the binary: swaks delivers over TLS; what a
// client pipelines after STARTTLS in plaintext is never executed (docs/TESTPLAN.md
// row 13); and a reload picks up a replaced certificate for new handshakes.
func TestInboundSTARTTLS(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "mail")
	ca := testcert.NewCA(t, "Sluice test CA")
	first := ca.Issue("mx.sluice.test")
	cert, key := first.Write(t, dir, "mx")
	admin := fmt.Sprintf("127.0.0.1:%d", postfixtest.FreePort(t))
	gw := startSluice(t, tlsPolicy(cert, key, md), "", "--admin", admin, "--watch=false")

	t.Run("swaks", func(t *testing.T) {
		out, err := swaks(t, gw.Addr, "--tls", "--from", "alice@sender.test", "--to", "bob@example.test",
			"--header", "Subject: over TLS")
		if err != nil {
			t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, gw.Log())
		}
		for _, want := range []string{"<-  220 2.0.0", "=== TLS started with cipher", "~> MAIL FROM:<alice@sender.test>", "<~  250 2.0.0 Ok: queued"} {
			if !strings.Contains(out, want) {
				t.Fatalf("transcript lacks %q:\n%s", want, out)
			}
		}
		msgs := waitMaildir(t, md, 1)
		if len(msgs) != 1 || !strings.Contains(msgs[0], "Subject: over TLS") {
			t.Fatalf("maildir: %q", msgs)
		}
	})

	t.Run("plaintext after STARTTLS discarded", func(t *testing.T) {
		c := dialSMTP(t, gw.Addr)
		// One packet: STARTTLS and a whole transaction an attacker slipped
		// in after it (CVE-2011-0411).
		c.Write("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nSubject: injected\r\n\r\nx\r\n.\r\n")
		c.Expect("220")
		tc := tls.Client(c.Conn, &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.sluice.test"})
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		c.Conn, c.R = tc, bufio.NewReader(tc)
		// Inside TLS, nothing of the injected transaction is there: MAIL
		// needs a new EHLO (RFC 3207 §4.2), and after it a fresh one works.
		c.Cmd("MAIL FROM:<a@example.org>", "503")
		c.Cmd("EHLO client.test", "250")
		c.Cmd("MAIL FROM:<a@example.org>", "250")
		c.Cmd("RCPT TO:<b@example.test>", "250")
		c.Cmd("DATA", "354")
		c.Write("Subject: genuine\r\n\r\nbody\r\n.\r\n")
		c.Expect("250")
		c.Cmd("QUIT", "221")
		msgs := waitMaildir(t, md, 2)
		all := strings.Join(msgs, "\n")
		if len(msgs) != 2 || !strings.Contains(all, "Subject: genuine") || strings.Contains(all, "injected") {
			t.Fatalf("maildir after the injection attempt:\n%s", all)
		}
		if !strings.Contains(gw.Log(), "discarded plaintext pipelined after STARTTLS") {
			t.Errorf("the discarded plaintext was not logged:\n%s", gw.Log())
		}
	})

	t.Run("certificate reload", func(t *testing.T) {
		before := startTLS(dialSMTP(t, gw.Addr), ca.Pool())
		if want := mustParse(t, first.TLS.Certificate[0]); !before.Equal(want) {
			t.Fatalf("served certificate %v, want the first one %v", before.SerialNumber, want.SerialNumber)
		}
		second := ca.Issue("mx.sluice.test")
		second.Write(t, dir, "mx")
		if code, body := httpDo(t, "POST", "http://"+admin+"/reload"); code != 200 || !strings.Contains(body, "ok: generation 2") {
			t.Fatalf("reload: %d %s", code, body)
		}
		after := startTLS(dialSMTP(t, gw.Addr), ca.Pool())
		if want := mustParse(t, second.TLS.Certificate[0]); !after.Equal(want) {
			t.Fatalf("after reload the server presents serial %v, want the new certificate's %v", after.SerialNumber, want.SerialNumber)
		}
	})
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// upstreamTLSPolicy forwards to %UPSTREAM% with STARTTLS settings.
func upstreamTLSPolicy(settings string) string {
	return `listen { address = "%LISTEN%" }
upstream {
  address = "%UPSTREAM%"
` + settings + `
}
`
}

// Outbound STARTTLS to a real Postfix (smtpd_tls_security_level = may)
// with a certificate from a test CA: Sluice verifies it, and the Received
// header Postfix writes says the hop used TLS.
func TestUpstreamSTARTTLSPostfix(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "Downstream CA")
	srv := ca.Issue("postfix.sluice.test")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	pf := postfixtest.Start(t, postfixtest.Options{
		Files: map[string][]byte{"tls.pem": srv.CertPEM, "tls.key": srv.KeyPEM},
		MainCF: []string{
			"smtpd_tls_security_level = may",
			"smtpd_tls_cert_file = $config_directory/tls.pem",
			"smtpd_tls_key_file = $config_directory/tls.key",
			"smtpd_tls_received_header = yes",
			"smtpd_tls_loglevel = 1",
		},
	})
	gw := startSluice(t, upstreamTLSPolicy(fmt.Sprintf(`  tls             = "required"
  tls_ca_file     = %q
  tls_server_name = "postfix.sluice.test"`, caFile)), pf.Addr)

	for i := range 2 { // the second one reuses the pooled TLS connection
		out, err := swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "bob@"+postfixtest.Domain,
			"--header", fmt.Sprintf("Subject: tls hop %d", i))
		if err != nil || !strings.Contains(out, "<-  250 2.0.0 Ok: queued") {
			t.Fatalf("swaks: %v\n%s\nsluice log:\n%s\nmaillog:\n%s", err, out, gw.Log(), pf.Log())
		}
	}
	got := pf.WaitDelivered(2, 30*time.Second)
	if len(got) != 2 {
		t.Fatalf("postfix delivered %d messages; maillog:\n%s", len(got), pf.Log())
	}
	received := regexp.MustCompile(`(?s)Received: from [^\n]+\n[^\n]*\(using TLSv1\.[23] [^\n]*\n?.*?by postfix\.sluice\.test \(Postfix\) with ESMTPS id`)
	for _, msg := range got {
		if !received.Match(msg) {
			t.Errorf("Postfix's Received header does not record TLS:\n%s", msg)
		}
	}
	if n := strings.Count(pf.Log(), "TLS connection established from"); n != 1 {
		t.Errorf("%d TLS connections for two messages, want one pooled connection; maillog:\n%s", n, pf.Log())
	}
}

// docs/TESTPLAN.md row 15 through the binary: TLS required, but the downstream
// does not offer STARTTLS (stripped, say, by an attacker in the path). The
// client gets 451 4.7.4 and nothing goes out in plaintext.
func TestUpstreamSTARTTLSRequiredStripped(t *testing.T) {
	m := fakemta.Start(t, fakemta.RawMode())
	gw := startSluice(t, upstreamTLSPolicy(`  tls = "required"`), m.Addr())
	out, err := swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "bob@example.test")
	if err == nil || !strings.Contains(out, "<** 451 4.7.4") {
		t.Fatalf("want 451 4.7.4: %v\n%s", err, out)
	}
	if strings.Contains(out, "250 2.0.0 Ok: queued") {
		t.Fatalf("a message was acknowledged:\n%s", out)
	}
	for _, cmd := range m.Commands() {
		if !strings.HasPrefix(cmd, "EHLO ") {
			t.Errorf("sent %q in plaintext", cmd)
		}
	}
	if !strings.Contains(gw.Log(), "upstream STARTTLS failed") {
		t.Errorf("the failure was not logged:\n%s", gw.Log())
	}
}
