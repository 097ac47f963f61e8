package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
)

const limitsPolicy = `
listen {
  address            = "%LISTEN%"
  junk_command_limit = 5
  hard_error_limit   = 3
}
upstream { address = "%UPSTREAM%" }
plugin "tag" {
  wasm   = "%BIN%/plugins/tag.wasm"
  config = { subject_prefix = "[sluice] " }
}
`

// dialRaw connects to addr for the attacks below, reads the greeting and
// says EHLO; a slow answer may take a minute.
func dialRaw(t *testing.T, addr string) *smtptest.Client {
	t.Helper()
	c := smtptest.Dial(t, addr)
	c.Timeout = 60 * time.Second
	return c.Hello("client.sluice.test")
}

// sendMail runs one transaction with body and expects want at its end.
func sendMail(c *smtptest.Client, body, want string) string {
	c.T.Helper()
	c.Cmd("MAIL FROM:<alice@sender.test>", "250 ")
	c.Cmd("RCPT TO:<bob@example.test>", "250 ")
	c.Cmd("DATA", "354 ")
	c.Write(body + "\r\n.\r\n")
	return c.Expect(want)
}

// TestClientLimits runs the sluice binary with the tag plugin in front of a
// fake MTA (ISSUE 9 §4): over-long message lines get 552 5.3.4 and reach
// nobody, a 1,500-byte Subject is tagged and delivered (folded, not 451),
// and the policy's junk_command_limit and hard_error_limit cut a client off
// with 421.
func TestClientLimits(t *testing.T) {
	mta := fakemta.Start(t)
	gw := startSluice(t, limitsPolicy, mta.Addr())

	c := dialRaw(t, gw.Addr)
	sendMail(c, "Subject: "+strings.Repeat("h", 20000)+"\r\n\r\nbody", "552 5.3.4 ")
	sendMail(c, "Subject: long body\r\n\r\n"+strings.Repeat("b", 50000), "552 5.3.4 ")
	if n := len(mta.Messages()); n != 0 {
		t.Fatalf("downstream got %d messages with over-long lines", n)
	}
	words := strings.Repeat("word ", 299) + "word" // 1499 bytes
	sendMail(c, "Subject: "+words+"\r\n\r\nbody", "250 ")
	sendMail(c, "Subject: hi\r\n "+words+"\r\n\r\nbody", "250 ")
	msgs := mta.Messages()
	if len(msgs) != 2 {
		t.Fatalf("downstream got %d messages, want 2; log:\n%s", len(msgs), gw.Log())
	}
	for i, m := range msgs {
		for _, line := range strings.Split(string(m.Data), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("message %d: a %d-byte line went downstream", i, len(line))
			}
		}
		if !strings.HasPrefix(string(m.Data), "Subject: [sluice] ") {
			t.Fatalf("message %d not tagged: %.60q", i, m.Data)
		}
	}
	c.Cmd("QUIT", "221 ")

	junk := dialRaw(t, gw.Addr) // its EHLO is the first junk command
	for range 4 {
		junk.Cmd("NOOP", "250 ")
	}
	junk.Cmd("NOOP", "421 4.7.0 ")

	errs := dialRaw(t, gw.Addr)
	errs.Cmd("RCPT TO:<bob@example.test>", "503 ")
	errs.Cmd("DATA", "503 ")
	errs.Cmd("MAIL FROM:<bad", "501 ")
	errs.Expect("421 4.7.0 ")
}
