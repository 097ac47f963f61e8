package e2e

import (
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/scantest"
)

// The content-scanning plugins through the real binary against the real
// daemons (gateway/internal/scantest): rspamd, clamd and spamd on loopback.

// gtube is SpamAssassin's Generic Test for Unsolicited Bulk Email.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// scanDaemons are started once, on first use, and stopped by TestMain.
var scanDaemons struct {
	mu      sync.Mutex
	started map[string]*scantest.Daemon
}

func stopScanDaemons() {
	for _, d := range scanDaemons.started {
		d.Stop()
	}
}

func scanDaemon(t testing.TB, name string) *scantest.Daemon {
	t.Helper()
	scanDaemons.mu.Lock()
	defer scanDaemons.mu.Unlock()
	if d := scanDaemons.started[name]; d != nil {
		return d
	}
	start := map[string]func() (*scantest.Daemon, error){
		"rspamd": scantest.StartRspamd, "clamd": scantest.StartClamd, "spamd": scantest.StartSpamd,
	}[name]
	d, err := start()
	if err != nil {
		t.Fatalf("%s did not start: %v", name, err)
	}
	if scanDaemons.started == nil {
		scanDaemons.started = map[string]*scantest.Daemon{}
	}
	scanDaemons.started[name] = d
	return d
}

// scanPolicy is a policy delivering to maildir with one scanner block and
// its plugin (config is the plugin's extra config, "" for none).
func scanPolicy(maildir, engine, address, pluginName, config, timeout string) string {
	if config != "" {
		config = ", " + config
	}
	return fmt.Sprintf(`listen   { address = "%%LISTEN%%" }
upstream { maildir = %q }
scanner "s" {
  %s = %q
}
plugin %q {
  wasm    = "%%BIN%%/plugins/%s.wasm"
  grants  = ["scan:s"]
  timeout = %q
  config  = { scanner = "s"%s }
}
`, maildir, engine, address, pluginName, pluginName, timeout, config)
}

// scanGateway starts the scanner daemon name (once) and a gateway running
// plugin (with config) against it, on its Unix socket when unixSocket is
// set; it returns the daemon, the gateway and the gateway's maildir.
func scanGateway(t *testing.T, name, plugin, config string, unixSocket bool) (*scantest.Daemon, *gateway, string) {
	t.Helper()
	d := scanDaemon(t, name)
	address := d.Address
	if unixSocket {
		address = d.Socket
	}
	md := filepath.Join(t.TempDir(), "mail")
	return d, startSluice(t, scanPolicy(md, name, address, plugin, config, "30s"), ""), md
}

// sendMessage runs one transaction to bob@example.net and returns the
// reply to the message (the final dot).
func sendMessage(t *testing.T, addr, msg string) string {
	t.Helper()
	return sendTo(t, addr, "bob@example.net", msg)
}

// sendWant sends msg and reports, as an error naming what, a reply that
// does not start with want; it returns whether the reply did.
func sendWant(t *testing.T, addr, what, msg, want string) bool {
	t.Helper()
	got := sendMessage(t, addr, msg)
	if !strings.HasPrefix(got, want) {
		t.Errorf("%s: %q, want %s", what, got, want)
		return false
	}
	return true
}

// sendSpamAndHam sends GTUBE, which must get 554 5.7.1, then a plain
// message, which must be accepted (else the test stops).
func sendSpamAndHam(t *testing.T, addr string) {
	t.Helper()
	sendWant(t, addr, "GTUBE", plainMessage("gtube", gtube), "554 5.7.1")
	if !sendWant(t, addr, "plain message", plainMessage("lunch", "Shall we meet at noon?"), "250") {
		t.FailNow()
	}
}

func plainMessage(subject, body string) string {
	return "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: " + subject +
		"\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) +
		"@example.org>\r\n\r\n" + body + "\r\n"
}

// assertDeferredWhileDown kills d in the middle of a transaction (the
// message half sent), checks that the message gets 451 and is not
// delivered, then that a new one is deferred as well, and restarts d.
func assertDeferredWhileDown(t *testing.T, d *scantest.Daemon, gw *gateway, md string, delivered int) {
	t.Helper()
	defer func() {
		if err := d.Restart(); err != nil {
			t.Errorf("restart %s: %v", d.Name, err)
		}
	}()
	c := dialSMTP(t, gw.Addr)
	c.Cmd("MAIL FROM:<alice@example.org>", "250")
	c.Cmd("RCPT TO:<bob@example.net>", "250")
	c.Cmd("DATA", "354")
	msg := plainMessage("killed mid-run", "first half\r\n")
	fmt.Fprint(c.Conn, msg)
	d.Kill()
	fmt.Fprint(c.Conn, "second half\r\n.\r\n")
	c.Conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, err := c.R.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "451 4.7.1") {
		t.Errorf("%s killed mid-transaction: reply %q, %v; want 451 4.7.1", d.Name, line, err)
	}
	if got := sendMessage(t, gw.Addr, plainMessage("while down", "hello")); !strings.HasPrefix(got, "451 4.7.1") {
		t.Errorf("%s down: reply %q, want 451 4.7.1", d.Name, got)
	}
	if n := len(maildirMessages(t, md)); n != delivered {
		t.Errorf("%s down: %d messages delivered, want %d", d.Name, n, delivered)
	}
}

func TestScanRspamd(t *testing.T) {
	d, gw, md := scanGateway(t, "rspamd", "rspamd", "", false)

	sendSpamAndHam(t, gw.Addr)
	if !sendWant(t, gw.Addr, "add header message", plainMessage(scantest.AddHeaderSubject, "hello"), "250") {
		t.FailNow()
	}
	msgs := waitMaildir(t, md, 2)
	if len(msgs) != 2 {
		t.Fatalf("%d messages delivered, want 2", len(msgs))
	}
	for _, m := range msgs {
		if !strings.Contains(m, "\nX-Spam-Score: ") || !strings.Contains(m, "\nX-Spam-Action: ") {
			t.Errorf("no score headers:\n%s", m)
		}
		addHeader := strings.Contains(m, scantest.AddHeaderSubject)
		if got := strings.Contains(m, "\nX-Spam: Yes\r\n"); got != addHeader {
			t.Errorf("X-Spam: Yes present = %v for the message:\n%s", got, m)
		}
		if addHeader && !strings.Contains(m, "X-Spam-Action: add header") {
			t.Errorf("add header message:\n%s", m)
		}
	}
	assertDeferredWhileDown(t, d, gw, md, 2)
}

func TestScanSpamassassin(t *testing.T) {
	d, gw, md := scanGateway(t, "spamd", "spamassassin", "reject_score = 10", false)

	sendSpamAndHam(t, gw.Addr)
	msgs := waitMaildir(t, md, 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "\nX-Spam-Status: No, score=") || !strings.Contains(msgs[0], "\nX-Spam-Flag: NO") {
		t.Fatalf("delivered: %q", msgs)
	}
	assertDeferredWhileDown(t, d, gw, md, 1)
}

func TestScanClamav(t *testing.T) {
	d, gw, md := scanGateway(t, "clamd", "clamav", "", true)

	want := "554 5.7.0 Virus found: " + scantest.EICARSignature
	if got := sendMessage(t, gw.Addr, plainMessage("inline", string(scantest.EICAR))); got != want {
		t.Errorf("EICAR inline: %q, want %q", got, want)
	}
	attached := "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: attachment\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=eicar.com\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(scantest.EICAR) + "\r\n--b1--\r\n"
	if got := sendMessage(t, gw.Addr, attached); got != want {
		t.Errorf("EICAR attachment: %q, want %q", got, want)
	}
	if !sendWant(t, gw.Addr, "clean message", plainMessage("clean", "nothing to see"), "250") {
		t.FailNow()
	}
	msgs := waitMaildir(t, md, 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "\nX-Virus-Scanned: clamav\r\n") {
		t.Fatalf("delivered: %q", msgs)
	}
	assertDeferredWhileDown(t, d, gw, md, 1)
}

// A scanner that accepts the connection and never answers is stopped at
// the hook's deadline: the message gets 451 in bounded time and is not
// delivered.
func TestScanSlowScannerStoppedAtDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { // read everything, answer nothing
				defer conns.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	md := filepath.Join(t.TempDir(), "mail")
	gw := startSluice(t, scanPolicy(md, "clamd", "tcp://"+l.Addr().String(), "clamav", "", "1s"), "")
	start := time.Now()
	sendWant(t, gw.Addr, "slow scanner", plainMessage("slow", "hello"), "451 4.7.1")
	if took := time.Since(start); took > 1*time.Second+10*time.Second {
		t.Errorf("slow scanner: the reply took %v with a 1s hook timeout", took)
	}
	if n := len(maildirMessages(t, md)); n != 0 {
		t.Errorf("%d messages delivered past a scanner that never answered", n)
	}
}
