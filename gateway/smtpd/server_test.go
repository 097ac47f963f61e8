package smtpd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

func TestGreetingAndEhlo(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1000}, newFakeBackend())
	c := ts.greeted(t)
	r := c.cmd("EHLO client.test", 250, "")
	want := []string{"mx.test", "PIPELINING", "8BITMIME", "SIZE 1000", "ENHANCEDSTATUSCODES"}
	if !reflect.DeepEqual(r.Lines, want) {
		t.Fatalf("EHLO lines %q, want %q", r.Lines, want)
	}
	r = c.cmd("HELO client.test", 250, "")
	if r.Lines[0] != "mx.test" {
		t.Fatalf("HELO reply %q", r.Lines)
	}
	c.cmd("QUIT", 221, "2.0.0")
	c.expectClosed()
	ts.backend.waitClosed(t, 1)
	if got := ts.backend.Calls(); got != "helo client.test tls=false|helo client.test tls=false|close" {
		t.Fatalf("calls %q", got)
	}
	for _, e := range ts.logs.all() {
		if e.session == "" {
			t.Errorf("log line %q without session", e.msg)
		}
	}
}

func TestSimpleCommands(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.greeted(t)
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("noop whatever", 250, "2.0.0")
	c.cmd("VRFY postmaster", 252, "2.5.0")
	c.cmd("VRFY", 501, "5.5.4")
	r := c.cmd("HELP", 214, "2.0.0")
	if strings.Contains(r.Lines[0], "STARTTLS") {
		t.Fatalf("HELP offers STARTTLS without TLS: %q", r.Lines)
	}
	c.cmd("RSET", 250, "2.0.0")
	c.cmd("RSET now", 501, "5.5.4")
	c.cmd("EHLO", 501, "5.5.4")
	c.cmd("EHLO a b", 501, "5.5.4")
	c.cmd("STARTTLS", 502, "5.5.1")
	c.cmd("EXPN list", 502, "5.5.1")
	c.cmd("QUIT", 221, "")
	c.expectClosed()
}

func TestSequencing(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.greeted(t)
	c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1")
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
	c.cmd("DATA", 503, "5.5.1")
	c.cmd("EHLO client.test", 250, "")
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
	c.cmd("DATA", 503, "5.5.1")
	c.cmd("MAIL FROM:<a@example.org>", 250, "2.1.0")
	c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1")
	c.cmd("DATA", 554, "5.5.1")
	c.cmd("DATA now", 501, "5.5.4")
	c.cmd("RSET", 250, "")
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
	// a new EHLO ends the transaction
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	c.cmd("EHLO client.test", 250, "")
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
	if got := ts.backend.Calls(); got != "helo client.test tls=false|mail <a@example.org> |reset|mail <a@example.org> |reset|helo client.test tls=false" {
		t.Fatalf("calls %q", got)
	}
}

func TestRejectedRcptsThenData(t *testing.T) {
	b := newFakeBackend()
	b.rcpt = func(string) *smtp.Reply { return smtp.NewReply(550, "5.1.1", "No such user") }
	ts := startServer(t, Config{}, b)
	c := ts.inMail(t)
	c.cmd("RCPT TO:<x@example.net>", 550, "5.1.1")
	c.cmd("DATA", 554, "5.5.1")
}

func TestAddressesAndParams(t *testing.T) {
	ts := startServer(t, Config{MaxMessageSize: 1000}, newFakeBackend())
	cases := []struct {
		mail     string
		code     int
		enhanced string
		from     string // recorded sender when accepted
	}{
		{"MAIL FROM:<a@example.org>", 250, "2.1.0", "mail <a@example.org> "},
		{"mail from: <a@example.org>", 250, "2.1.0", "mail <a@example.org> "},
		{"MAIL FROM:<>", 250, "2.1.0", "mail <> "},
		{"MAIL FROM:<@relay.example,@r2.example:a@example.org>", 250, "2.1.0", "mail <a@example.org> "},
		{`MAIL FROM:<"odd>name"@example.org>`, 250, "2.1.0", `mail <"odd>name"@example.org> `},
		{"MAIL FROM:<a@[192.0.2.1]>", 250, "2.1.0", "mail <a@[192.0.2.1]> "},
		{"MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME", 250, "2.1.0", "mail <a@example.org> SIZE=1000 BODY=8BITMIME"},
		{"MAIL FROM:<a@example.org> body=7bit", 250, "2.1.0", "mail <a@example.org> body=7bit"},
		{"MAIL FROM:<a@example.org> SIZE=1001", 552, "5.3.4", ""},
		{"MAIL FROM:<a@example.org> SIZE=99999999999999999999999", 552, "5.3.4", ""},
		{"MAIL FROM:<a@example.org> SIZE=x", 501, "5.5.4", ""},
		{"MAIL FROM:<a@example.org> BODY=BINARYMIME", 501, "5.5.4", ""},
		{"MAIL FROM:<a@example.org> SMTPUTF8", 555, "5.5.4", ""}, // docs/TESTPLAN.md row 27
		{"MAIL FROM:<a@example.org> RET=HDRS", 555, "5.5.4", ""},
		{"MAIL FROM:<a@example.org> SIZE=1 SIZE=2", 501, "5.5.4", ""},
		{"MAIL FROM:a@example.org", 501, "5.5.4", ""},
		{"MAIL FROM:<a@example.org", 501, "5.5.4", ""},
		{"MAIL FROM:<a@example.org>x", 501, "5.5.4", ""},
		{"MAIL TO:<a@example.org>", 501, "5.5.4", ""},
		{"MAIL FROM:<a b@example.org>", 501, "5.1.7", ""},
		{"MAIL FROM:<a\tb@example.org>", 501, "5.1.7", ""},
		{"MAIL FROM:<a@>", 501, "5.1.7", ""},
		{"MAIL FROM:<@example.org>", 501, "5.1.7", ""},
		{"MAIL FROM:<a..b@example.org>", 501, "5.1.7", ""},
		{"MAIL FROM:<postmaster>", 501, "5.1.7", ""},
		{"MAIL FROM:<" + strings.Repeat("a", 251) + "@b.c>", 501, "5.1.7", ""},
		{"MAIL FROM:<" + strings.Repeat("a", 250) + "@b.c>", 250, "2.1.0", "mail <" + strings.Repeat("a", 250) + "@b.c> "},
		{"MAIL FROM:<j\xc3\xb6rg@example.org>", 553, "5.6.7", ""},
	}
	for i, tc := range cases {
		c := ts.ehloed(t)
		before := ts.backend.Calls()
		c.cmd(tc.mail, tc.code, tc.enhanced)
		after := ts.backend.Calls()
		if tc.code == 250 {
			if !strings.HasSuffix(after, "|"+tc.from) {
				t.Errorf("%q: calls end %q, want %q", tc.mail, after, tc.from)
			}
		} else if strings.Count(after, "mail ") != strings.Count(before, "mail ") {
			t.Errorf("%q: Session.Mail called on a refused command", tc.mail)
		}
		c.Conn.Close()
		ts.backend.waitClosed(t, i+1) // so that no "close" lands among the calls
	}

	rcpts := []struct {
		rcpt     string
		code     int
		enhanced string
	}{
		{"RCPT TO:<b@example.net>", 250, "2.1.5"},
		{"rcpt to: <b@example.net>", 250, "2.1.5"},
		{"RCPT TO:<Postmaster>", 250, "2.1.5"},
		{"RCPT TO:<>", 501, "5.1.3"},
		{"RCPT TO:<b c@example.net>", 501, "5.1.3"},
		{"RCPT TO:<b@example.net> NOTIFY=NEVER", 555, "5.5.4"},
		{"RCPT TO:<b@example.net> SMTPUTF8", 555, "5.5.4"},
		{"RCPT FROM:<b@example.net>", 501, "5.5.4"},
		{"RCPT TO:<" + strings.Repeat("b", 251) + "@c.d>", 501, "5.1.3"},
	}
	c := ts.inMail(t)
	for _, tc := range rcpts {
		c.cmd(tc.rcpt, tc.code, tc.enhanced)
	}
}

func TestMaxRecipients(t *testing.T) {
	ts := startServer(t, Config{MaxRecipients: 3}, newFakeBackend())
	c := ts.inMail(t)
	var batch strings.Builder
	for i := range 6 {
		batch.WriteString("RCPT TO:<r" + string(rune('a'+i)) + "@example.net>\r\n")
	}
	c.Write(batch.String())
	for range 3 {
		c.expect(250, "2.1.5")
	}
	for range 3 {
		c.expect(452, "4.5.3") // docs/TESTPLAN.md row 21
	}
	if n := strings.Count(ts.backend.Calls(), "rcpt "); n != 3 {
		t.Fatalf("Session.Rcpt called %d times, want 3", n)
	}
	// the limit is per transaction
	c.cmd("RSET", 250, "")
	c.cmd("MAIL FROM:<a@example.org>", 250, "")
	c.cmd("RCPT TO:<z@example.net>", 250, "")
}

func TestPipelining(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{}, b)
	c := ts.greeted(t)
	c.Write("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
	c.expectReplies("250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "354")
	c.Write("Subject: hi\r\n\r\nbody\r\n.\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<y@example.net>\r\nRSET\r\nNOOP\r\nQUIT\r\n")
	c.expectReplies("250 2.0.0", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0", "221")
	c.expectClosed()
	msgs := b.Messages()
	if len(msgs) != 1 || string(msgs[0]) != "Subject: hi\r\n\r\nbody\r\n" {
		t.Fatalf("messages %q", msgs)
	}
}

func TestDataNilIsNever250(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend()) // Data returns nil
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	c.Write("hello\r\n.\r\n")
	c.expect(451, "4.3.0")
	// the transaction is over
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
	if got := ts.backend.Calls(); !strings.HasSuffix(got, "data 7|reset") {
		t.Fatalf("calls %q", got)
	}
}

func TestDataReplyRelayed(t *testing.T) {
	b := newFakeBackend()
	b.data = func([]byte) *smtp.Reply {
		return &smtp.Reply{Code: 554, Enhanced: "5.7.1", Lines: []string{"Rejected\r\n250 OK", "second"}}
	}
	ts := startServer(t, Config{}, b)
	c := ts.inRcpt(t)
	c.cmd("DATA", 354, "")
	c.Write("x\r\n.\r\n")
	r := c.expect(554, "5.7.1")
	// docs/TESTPLAN.md row 47: sanitized, exactly one reply
	if !reflect.DeepEqual(r.Lines, []string{"Rejected??250 OK", "second"}) {
		t.Fatalf("lines %q", r.Lines)
	}
	c.cmd("NOOP", 250, "")
}

func TestInvalidSessionReplyCode(t *testing.T) {
	b := newFakeBackend()
	b.mail = func(string) *smtp.Reply { return smtp.NewReply(354, "", "go ahead") }
	b.data = func([]byte) *smtp.Reply { return smtp.NewReply(199, "", "odd") }
	ts := startServer(t, Config{}, b)
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<a@example.org>", 451, "4.3.0")
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
}

func TestSession421Closes(t *testing.T) {
	b := newFakeBackend()
	b.mail = func(string) *smtp.Reply { return smtp.NewReply(421, "4.7.0", "Go away") }
	ts := startServer(t, Config{}, b)
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<a@example.org>", 421, "4.7.0")
	c.expectClosed()
	b.waitClosed(t, 1)
}

func TestNewSessionRefused(t *testing.T) {
	b := newFakeBackend()
	b.connect = func() *smtp.Reply { return smtp.NewReply(554, "5.7.1", "Not welcome") }
	ts := startServer(t, Config{}, b)
	c := ts.dial(t)
	c.expect(554, "5.7.1")
	c.expectClosed()
	if got := b.Calls(); got != "refused" {
		t.Fatalf("calls %q (no session, so no Close)", got)
	}
}

func TestUnknownCommandsLimit(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.greeted(t)
	for range DefaultHardErrorLimit - 1 {
		c.cmd("FOO", 500, "5.5.2")
	}
	c.cmd("FOO", 500, "5.5.2")
	c.expect(421, "4.7.0")
	c.expectClosed()
}

func TestBDATClosesConnection(t *testing.T) {
	// docs/TESTPLAN.md row 11: CHUNKING is not offered; the chunk must never be
	// read as commands.
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.inRcpt(t)
	c.Write("BDAT 20 LAST\r\nMAIL FROM:<e@x.org>\r\n")
	c.expect(502, "5.5.1")
	c.expectClosed()
	ts.backend.waitClosed(t, 1)
	if n := strings.Count(ts.backend.Calls(), "mail "); n != 1 {
		t.Fatalf("MAIL ran %d times", n)
	}
}
