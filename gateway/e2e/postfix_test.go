package e2e

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/postfixtest"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
)

const frontPolicy = `
listen   { address = "%LISTEN%" }
upstream { address = "%UPSTREAM%" }
plugin "access" {
  wasm   = "%BIN%/plugins/access.wasm"
  config = { deny_recipients = ["blocked@*"], code = 550, enhanced = "5.7.1", message = "Recipient refused here" }
}
plugin "tag" {
  wasm   = "%BIN%/plugins/tag.wasm"
  config = { headers = { "X-Sluice-Test" = "e2e", "X-Filtered-By" = "sluice" }, subject_prefix = "[sluice] " }
}
`

// swaks → sluice → Postfix → Maildir: the delivered message carries the tag
// plugin's headers and subject prefix, and the client saw 250 only after
// Postfix queued it.
func TestPostfixEndToEnd(t *testing.T) {
	pf := postfixtest.Start(t, postfixtest.Options{})
	gw := startSluice(t, frontPolicy, pf.Addr)

	out, err := swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "bob@"+postfixtest.Domain,
		"--header", "Subject: hello through sluice", "--body", "line one\n.leading dot\nlast line")
	if err != nil {
		t.Fatalf("swaks: %v\n%s\nsluice log:\n%s", err, out, gw.Log())
	}
	// Postfix's queue id reaches the client and sluice's log (docs/TESTPLAN.md row
	// 35), and it is the id Postfix logged the message under.
	m := queuedAs.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("end of DATA was not answered 250 2.0.0 with Postfix's queue id:\n%s", out)
	}
	id := m[1]
	if !waitLog(pf, regexp.MustCompile(`(?m): `+id+`: `)) {
		t.Errorf("queue id %s not in Postfix's log:\n%s", id, pf.Log())
	}
	if !waitGatewayLog(gw, `msg="message delivered"`, "queue_id="+id) {
		t.Errorf("delivery with queue id %s not in sluice's log:\n%s", id, gw.Log())
	}
	got := pf.WaitDelivered(1, 30*time.Second)
	if len(got) != 1 {
		t.Fatalf("postfix delivered %d messages; maillog:\n%s\nsluice log:\n%s", len(got), pf.Log(), gw.Log())
	}
	msg := got[0]
	for _, want := range []string{"X-Sluice-Test: e2e", "X-Filtered-By: sluice", "Subject: [sluice] hello through sluice", "\n.leading dot\n"} {
		if !bytes.Contains(msg, []byte(want)) {
			t.Errorf("delivered message lacks %q:\n%s", want, msg)
		}
	}
	// Postfix received it from sluice, once.
	if n := bytes.Count(msg, []byte("X-Sluice-Test:")); n != 1 {
		t.Errorf("tag header present %d times", n)
	}
}

// queuedAs matches, in swaks's transcript, the end-of-data reply that relays
// Postfix's queue id.
var queuedAs = regexp.MustCompile(`(?m)^<-  250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)\r?$`)

// waitGatewayLog waits (bounded) for a line of sluice's log that holds all of
// parts: the log is copied from the process's output in the background.
func waitGatewayLog(g *gateway, parts ...string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.Lines(g.Log()) {
			if allIn(line, parts) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func allIn(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// A plugin rejection at RCPT, Postfix's own relay refusal (5xx relayed with
// its class) and an unreachable Postfix (4.4.1) each reach the client, and
// nothing is delivered for them.
func TestPostfixReplyPaths(t *testing.T) {
	pf := postfixtest.Start(t, postfixtest.Options{})
	gw := startSluice(t, frontPolicy, pf.Addr)

	out, err := swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "blocked@"+postfixtest.Domain)
	if err == nil || !strings.Contains(out, "<** 550 5.7.1 Recipient refused here") {
		t.Fatalf("plugin rejection not seen: %v\n%s", err, out)
	}
	out, err = swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "someone@foreign.test")
	if err == nil || !strings.Contains(out, "<** 554 5.7.1") || !strings.Contains(out, "Relay access denied") {
		t.Fatalf("postfix relay refusal not relayed: %v\n%s", err, out)
	}
	if n := len(pf.Delivered()); n != 0 {
		t.Fatalf("%d messages delivered for refused transactions", n)
	}

	pf.Stop()
	out, err = swaks(t, gw.Addr, "--from", "alice@sender.test", "--to", "bob@"+postfixtest.Domain)
	if err == nil || !strings.Contains(out, "451 4.4.1") {
		t.Fatalf("unreachable downstream did not give 451 4.4.1: %v\n%s", err, out)
	}
	if strings.Contains(out, "250 2.0.0") {
		t.Fatalf("a message was acknowledged with the downstream down:\n%s", out)
	}
}

// A client that pipelines (RFC 2920) through Sluice to a Postfix that
// disconnects clients breaking the pipelining rules: each command gets its
// own answer in order (the plugin's refusal, Postfix's relay refusal, and
// acceptances), the message goes to the accepted recipients only, and
// Postfix saw nothing improper in the MAIL and RCPTs Sluice pipelined.
func TestPostfixPipelined(t *testing.T) {
	pf := postfixtest.Start(t, postfixtest.Options{MainCF: []string{"smtpd_forbid_unauth_pipelining = yes"}})
	gw := startSluice(t, frontPolicy, pf.Addr)

	c := smtptest.Dial(t, gw.Addr)
	c.Expect("220")
	c.Cmd("EHLO client.sluice.test", "250")
	for range 2 {
		c.Write("MAIL FROM:<alice@sender.test>\r\n" +
			"RCPT TO:<bob@" + postfixtest.Domain + ">\r\n" +
			"RCPT TO:<blocked@" + postfixtest.Domain + ">\r\n" +
			"RCPT TO:<someone@foreign.test>\r\n" +
			"RCPT TO:<carol@" + postfixtest.Domain + ">\r\n" +
			"DATA\r\n")
		for _, want := range []string{"250 2.1.0", "250 2.1.5", "550 5.7.1 Recipient refused here", "554 5.7.1", "250 2.1.5", "354"} {
			c.Expect(want)
		}
		c.Write("Subject: pipelined\r\n\r\nbody\r\n.\r\n")
		c.Expect("250 2.0.0 Ok: queued as ")
	}
	c.Cmd("QUIT", "221")

	got := pf.WaitDelivered(4, 30*time.Second)
	if len(got) != 4 {
		t.Fatalf("postfix delivered %d messages, want 2 recipients × 2; maillog:\n%s\nsluice log:\n%s", len(got), pf.Log(), gw.Log())
	}
	for _, m := range got {
		if !bytes.Contains(m, []byte("Subject: [sluice] pipelined")) {
			t.Errorf("delivered message:\n%s", m)
		}
	}
	for _, bad := range []string{"improper command pipelining", "synchronization", "blocked@"} {
		if strings.Contains(pf.Log(), bad) {
			t.Errorf("Postfix's log has %q:\n%s", bad, pf.Log())
		}
	}
}
