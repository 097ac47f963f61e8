package e2e

import (
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
)

// Behind a load balancer (127.0.0.1 here) that speaks the PROXY protocol:
// the client named in the header is the one Postfix judges and records,
// through XCLIENT; connections without a header, or from elsewhere, are
// dropped before the greeting (docs/TESTPLAN.md row 29).
func TestProxyProtocolClientReachesPostfix(t *testing.T) {
	pfAddr := loopback(t)
	pf := postfixtest.Start(t, postfixtest.Options{
		Addr:     pfAddr,
		MainCF:   append(postfixtest.Snippet(t, "mx-front/main.cf", map[string]string{"MYNETWORKS": "127.0.0.254/32"}), "defer_transports = smtp"),
		MasterCF: postfixtest.Snippet(t, "mx-front/master.cf", map[string]string{"POSTFIX_ADDR": pfAddr, "SLUICE_IP": "127.0.0.1"}),
	})
	gw := startSluice(t, `listen {
  address        = "%LISTEN%"
  proxy_protocol = true
  proxy_trusted  = ["127.0.0.1/32"]
}
upstream {
  address = "%UPSTREAM%"
  xclient = true
}
`, pf.Addr)

	c := dialFrom(t, "127.0.0.1", gw.Addr)
	c.Write("PROXY TCP4 192.0.2.77 127.0.0.1 40000 25\r\n")
	c.Expect("220")
	c.Cmd("EHLO client.sluice.test", "250")
	c.Cmd("MAIL FROM:<alice@sender.test>", "250")
	c.Cmd("RCPT TO:<bob@"+postfixtest.Domain+">", "250")
	c.Cmd("DATA", "354")
	c.Write("Subject: via balancer\r\n\r\nbody\r\n.\r\n")
	c.Expect("250")
	c.Cmd("QUIT", "221")
	got := pf.WaitDelivered(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("postfix delivered %d messages; maillog:\n%s\nsluice log:\n%s", len(got), pf.Log(), gw.Log())
	}
	if !regexp.MustCompile(`Received: from client\.sluice\.test \(unknown \[192\.0\.2\.77\]\)`).Match(got[0]) {
		t.Errorf("Postfix's Received header does not name the client from the PROXY header:\n%s", got[0])
	}
	if !waitLog(pf, regexp.MustCompile(`client=unknown\[192\.0\.2\.77\]`)) {
		t.Errorf("Postfix did not log the client from the PROXY header; maillog:\n%s", pf.Log())
	}

	for _, tc := range []struct{ name, from, send string }{
		{"header from elsewhere", clientIP, "PROXY TCP4 192.0.2.78 127.0.0.1 40000 25\r\n"},
		{"no header", "127.0.0.1", "EHLO client.sluice.test\r\n"},
		{"malformed header", "127.0.0.1", "PROXY TCP4 192.0.2.78\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, tc.from, gw.Addr)
			io.WriteString(c.Conn, tc.send)
			c.Conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			b, err := io.ReadAll(c.R)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || len(b) > 0 {
				t.Fatalf("connection not dropped: read %q, %v", b, err)
			}
		})
	}
	if n := len(pf.Delivered()); n != 1 {
		t.Errorf("%d messages delivered, want only the first", n)
	}
}

// dialFrom connects to addr from the loopback address from, without
// reading anything.
func dialFrom(t *testing.T, from, addr string) *smtptest.Client {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return smtptest.New(t, c)
}

// On a listener without proxy_protocol, a PROXY line is an unknown
// command, and the session goes on as the real peer.
func TestProxyLineWithoutProxyProtocol(t *testing.T) {
	gw := startSluice(t, genPolicy(t.TempDir()+"/mail", "one"), "", "--watch=false")
	c := dialSMTP(t, gw.Addr)
	c.Cmd("PROXY TCP4 192.0.2.77 127.0.0.1 40000 25", "500")
	c.Cmd("MAIL FROM:<a@example.org>", "250")
	c.Cmd("QUIT", "221")
	if !strings.Contains(gw.Log(), "remote=127.0.0.1:") {
		t.Errorf("sluice did not log the real peer:\n%s", gw.Log())
	}
}
