package fakemta

import (
	"bufio"
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/internal/testcert"
)

func TestSTARTTLS(t *testing.T) {
	ca := testcert.NewCA(t, "CA")
	m := Start(t, Extensions("8BITMIME"), TLS(ca.Issue("mx.test").Config()))
	c := dial(t, m)
	c.Reply()
	c.Write("EHLO c\r\n")
	var ehlo []string
	for {
		l, err := c.R.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		ehlo = append(ehlo, strings.TrimSpace(l))
		if l[3] == ' ' {
			break
		}
	}
	if !slices.Contains(ehlo, "250 STARTTLS") {
		t.Fatalf("STARTTLS not offered: %q", ehlo)
	}
	// What is pipelined after STARTTLS is plaintext, and dropped.
	c.Write("STARTTLS\r\nMAIL FROM:<injected@x>\r\n")
	if r := c.Reply(); !strings.HasPrefix(r, "220") {
		t.Fatalf("STARTTLS: %q", r)
	}
	tc := tls.Client(c.Conn, &tls.Config{RootCAs: ca.Pool(), ServerName: "mx.test"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.Conn, c.R = tc, bufio.NewReader(tc)
	c.Cmd("EHLO c", "250 8BITMIME") // no STARTTLS inside TLS
	c.Cmd("STARTTLS", "503")
	c.Cmd("MAIL FROM:<a@x>", "250")
	c.Cmd("RCPT TO:<b@y>", "250")
	c.Cmd("DATA", "354")
	c.Write("x\r\n.\r\n")
	c.Reply()
	c.Cmd("QUIT", "221")
	msgs := m.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].From != "a@x" {
		t.Fatalf("messages %+v", msgs)
	}
	if slices.Contains(m.Commands(), "MAIL FROM:<injected@x>") {
		t.Errorf("pipelined plaintext was executed: %q", m.Commands())
	}
}

func TestSTARTTLSWithoutCertificate(t *testing.T) {
	m := Start(t, Extensions("STARTTLS"))
	c := dial(t, m)
	c.Reply()
	c.Cmd("EHLO c", "250 STARTTLS")
	c.Cmd("STARTTLS", "220")
	if _, err := c.R.ReadByte(); err == nil {
		t.Fatal("connection still open after STARTTLS without a certificate")
	}
}
