package e2e

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
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

// rawClient is a raw SMTP client for the attacks below.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.expect("220 ")
	c.cmd("EHLO client.sluice.test", "250 ")
	return c
}

// expect reads one reply and checks the prefix of its last line.
func (c *rawClient) expect(prefix string) string {
	c.t.Helper()
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply (want %q): %v", prefix, err)
		}
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, prefix) {
			c.t.Fatalf("got %q, want %q", line, prefix)
		}
		return line
	}
}

func (c *rawClient) cmd(line, want string) string {
	c.t.Helper()
	fmt.Fprintf(c.nc, "%s\r\n", line)
	return c.expect(want)
}

func (c *rawClient) send(body, want string) string {
	c.t.Helper()
	c.cmd("MAIL FROM:<alice@sender.test>", "250 ")
	c.cmd("RCPT TO:<bob@example.test>", "250 ")
	c.cmd("DATA", "354 ")
	fmt.Fprintf(c.nc, "%s\r\n.\r\n", body)
	return c.expect(want)
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
	c.send("Subject: "+strings.Repeat("h", 20000)+"\r\n\r\nbody", "552 5.3.4 ")
	c.send("Subject: long body\r\n\r\n"+strings.Repeat("b", 50000), "552 5.3.4 ")
	if n := len(mta.Messages()); n != 0 {
		t.Fatalf("downstream got %d messages with over-long lines", n)
	}
	words := strings.Repeat("word ", 299) + "word" // 1499 bytes
	c.send("Subject: "+words+"\r\n\r\nbody", "250 ")
	c.send("Subject: hi\r\n "+words+"\r\n\r\nbody", "250 ")
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
	c.cmd("QUIT", "221 ")

	junk := dialRaw(t, gw.Addr) // its EHLO is the first junk command
	for range 4 {
		junk.cmd("NOOP", "250 ")
	}
	junk.cmd("NOOP", "421 4.7.0 ")

	errs := dialRaw(t, gw.Addr)
	errs.cmd("RCPT TO:<bob@example.test>", "503 ")
	errs.cmd("DATA", "503 ")
	errs.cmd("MAIL FROM:<bad", "501 ")
	errs.expect("421 4.7.0 ")
}
