package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/scantest"
)

// The shipped policies/postfix-scanning.hcl, addresses replaced by the
// test's: swaks → sluice (clamav, rspamd) → Postfix. GTUBE and EICAR are
// refused before Postfix sees them; a plain message reaches Postfix's
// mailbox scanned, with rspamd's score headers.
func TestPostfixScanningPolicy(t *testing.T) {
	rs, cl := scanDaemon(t, "rspamd"), scanDaemon(t, "clamd")
	pf := postfixtest.Start(t, postfixtest.Options{MainCF: []string{"smtpd_authorized_xclient_hosts = 127.0.0.0/8"}})
	b, err := os.ReadFile(filepath.Join(repoRoot(), "policies", "postfix-scanning.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for old, repl := range map[string]string{
		`"0.0.0.0:25"`: `"%LISTEN%"`, `"127.0.0.1:10025"`: `"%UPSTREAM%"`, `../bin/plugins/`: `%BIN%/plugins/`,
		`"http://127.0.0.1:11333"`: `"` + rs.Address + `"`, `"unix:/run/clamav/clamd.ctl"`: `"` + cl.Socket + `"`,
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("policies/postfix-scanning.hcl no longer holds %s", old)
		}
		src = strings.ReplaceAll(src, old, repl)
	}
	gw := startSluice(t, src, pf.Addr)
	to := "bob@" + postfixtest.Domain

	if got := sendTo(t, gw.Addr, to, plainMessage("gtube", gtube)); !strings.HasPrefix(got, "554 5.7.1") {
		t.Errorf("GTUBE: %q, want 554 5.7.1", got)
	}
	if got := sendTo(t, gw.Addr, to, plainMessage("eicar", string(scantest.EICAR))); !strings.HasPrefix(got, "554 5.7.0 Virus found: ") {
		t.Errorf("EICAR: %q, want 554 5.7.0 Virus found", got)
	}
	if got := sendTo(t, gw.Addr, to, plainMessage("lunch", "Shall we meet at noon?")); !strings.HasPrefix(got, "250 2.0.0 Ok: queued as ") {
		t.Fatalf("plain message: %q (Postfix's reply expected)\nsluice log:\n%s", got, gw.Log())
	}
	got := pf.WaitDelivered(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("postfix delivered %d messages; maillog:\n%s", len(got), pf.Log())
	}
	for _, want := range []string{"X-Virus-Scanned: clamav", "X-Spam-Score: ", "X-Spam-Action: no action", "X-Spam-Symbols: ", "Subject: lunch"} {
		if !bytes.Contains(got[0], []byte(want)) {
			t.Errorf("delivered message lacks %q:\n%s", want, got[0])
		}
	}
	// Only the plain message reached Postfix.
	if n := len(pf.Delivered()); n != 1 {
		t.Errorf("postfix delivered %d messages, want 1", n)
	}
}

// sendTo is sendMessage to one recipient.
func sendTo(t *testing.T, addr, rcpt, msg string) string {
	t.Helper()
	c := dialSMTP(t, addr)
	c.Cmd("MAIL FROM:<alice@example.org>", "250")
	c.Cmd("RCPT TO:<"+rcpt+">", "250")
	c.Cmd("DATA", "354")
	c.Conn.Write([]byte(msg + ".\r\n"))
	c.Conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		line, err := c.R.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the reply to DATA: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}
