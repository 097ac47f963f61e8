package smtpd

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// settlingBackend gives settlingSessions: Mail and Rcpt answer Later, except
// for addresses starting with "hook-", refused at once (as a plugin does),
// and Settle returns what the fakeBackend's mail and rcpt hooks say (as the
// downstream does).
type settlingBackend struct{ *fakeBackend }

func (b settlingBackend) NewSession(ctx context.Context, c ConnInfo) (Session, *smtp.Reply) {
	s, r := b.fakeBackend.NewSession(ctx, c)
	if s == nil {
		return nil, r
	}
	return &settlingSession{fakeSession: s.(*fakeSession)}, nil
}

var replyHookRefused = smtp.NewReply(550, "5.7.1", "Refused by policy")

type settlingSession struct {
	*fakeSession
	pending []func() *smtp.Reply
	panics  bool // Settle panics
}

func (s *settlingSession) Mail(ctx context.Context, from, params string) *smtp.Reply {
	s.b.record("mail <%s>", from)
	s.panics = strings.HasPrefix(from, "panic")
	return s.later(from, s.b.mail)
}

func (s *settlingSession) Rcpt(ctx context.Context, to, params string) *smtp.Reply {
	s.b.record("rcpt <%s>", to)
	return s.later(to, s.b.rcpt)
}

// later refuses addr at once if it starts with "hook-", else answers Later
// and queues what hook, if any, says of it for Settle.
func (s *settlingSession) later(addr string, hook func(string) *smtp.Reply) *smtp.Reply {
	if strings.HasPrefix(addr, "hook-") {
		return replyHookRefused
	}
	s.pending = append(s.pending, func() *smtp.Reply {
		if hook != nil {
			return hook(addr)
		}
		return nil
	})
	return Later
}

func (s *settlingSession) Settle(ctx context.Context) []*smtp.Reply {
	s.b.record("settle %d", len(s.pending))
	if s.panics {
		panic("settle")
	}
	var out []*smtp.Reply
	for _, f := range s.pending {
		out = append(out, f())
	}
	s.pending = nil
	return out
}

// refuse makes a hook refuse the addresses starting with "no".
func refuse(code int, enhanced string) func(string) *smtp.Reply {
	return func(a string) *smtp.Reply {
		if strings.HasPrefix(a, "no") {
			return smtp.NewReply(code, enhanced, "Refused downstream")
		}
		return nil
	}
}

func startSettling(t *testing.T, cfg Config) (*testServer, *fakeBackend) {
	t.Helper()
	fb := newFakeBackend()
	fb.data = accept250
	return startServerWith(t, cfg, settlingBackend{fb}, fb), fb
}

// A pipelined group is settled once, before its DATA, and each command gets
// its own reply in order: refused at settle, refused at once by a hook, or
// accepted.
func TestSettleGroup(t *testing.T) {
	ts, fb := startSettling(t, Config{})
	fb.rcpt = refuse(550, "5.1.1")
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<b1@example.net>\r\nRCPT TO:<no1@example.net>\r\n" +
		"RCPT TO:<hook-x@example.net>\r\nRCPT TO:<b4@example.net>\r\nDATA\r\n")
	c.expectReplies("250 2.1.0", "250 2.1.5", "550 5.1.1", "550 5.7.1", "250 2.1.5", "354")
	c.Write("x\r\n.\r\n")
	c.expect(250, "2.0.0")
	want := "mail <a@example.org>|rcpt <b1@example.net>|rcpt <no1@example.net>|rcpt <hook-x@example.net>|rcpt <b4@example.net>|settle 4|data 3"
	if got := fb.Calls(); !strings.Contains(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// A client that does not pipeline gets each command settled on its own,
// before the server waits for the next one.
func TestSettleLockstep(t *testing.T) {
	ts, fb := startSettling(t, Config{})
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<a@example.org>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@example.net>", 250, "2.1.5")
	c.cmd("RCPT TO:<hook-x@example.net>", 550, "5.7.1")
	c.cmd("DATA", 354, "")
	want := "|mail <a@example.org>|settle 1|rcpt <b@example.net>|settle 1|rcpt <hook-x@example.net>"
	if got := fb.Calls(); !strings.HasSuffix(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// A MAIL refused at settle ends the transaction: the RCPTs after it get
// 503, as they would had the MAIL been answered first, and so does DATA.
func TestSettleMailRefused(t *testing.T) {
	ts, fb := startSettling(t, Config{})
	fb.mail = refuse(550, "5.7.1")
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<no@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<hook-x@example.net>\r\nRCPT TO:<bad\r\nDATA\r\n")
	c.expectReplies("550 5.7.1", "503 5.5.1", "503 5.5.1", "503 5.5.1", "503 5.5.1")
	c.cmd("MAIL FROM:<a@example.org>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@example.net>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.Write("x\r\n.\r\n")
	c.expect(250, "2.0.0")
}

// Every RCPT refused at settle: DATA gets 554, no valid recipients.
func TestSettleNoRecipients(t *testing.T) {
	ts, fb := startSettling(t, Config{})
	fb.rcpt = refuse(450, "4.2.0")
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<no1@example.net>\r\nRCPT TO:<no2@example.net>\r\nDATA\r\n")
	c.expectReplies("250 2.1.0", "450 4.2.0", "450 4.2.0", "554 5.5.1")
	if got := fb.Calls(); strings.Contains(got, "data") {
		t.Fatalf("calls %q", got)
	}
}

// The recipient limit counts only recipients accepted in the end: a group
// that reaches it is settled before the next RCPT.
func TestSettleMaxRecipients(t *testing.T) {
	ts, fb := startSettling(t, Config{MaxRecipients: 2})
	fb.rcpt = refuse(550, "5.1.1")
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<b1@example.net>\r\nRCPT TO:<no@example.net>\r\n" +
		"RCPT TO:<b3@example.net>\r\nRCPT TO:<b4@example.net>\r\nDATA\r\n")
	c.expectReplies("250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "452 4.5.3", "354")
}

// The error limit holds within a group: nothing after its 421.
func TestSettleErrorLimit(t *testing.T) {
	ts, fb := startSettling(t, Config{HardErrorLimit: 3})
	fb.rcpt = refuse(550, "5.1.1")
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<no1@example.net>\r\nRCPT TO:<no2@example.net>\r\n" +
		"RCPT TO:<no3@example.net>\r\nRCPT TO:<no4@example.net>\r\nDATA\r\n")
	c.expectReplies("250 2.1.0", "550", "550", "550", "421 4.7.0")
	c.expectClosed()
}

// A connection that ends with a group held (here, an over-long line) still
// answers the group first, in order.
func TestSettleAtEnd(t *testing.T) {
	ts, _ := startSettling(t, Config{MaxLineLength: 100})
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n" + strings.Repeat("x", 200) + "\r\n")
	c.expectReplies("250 2.1.0", "250 2.1.5", "500")
	c.expectClosed()
}

// A panic in Settle is one 421 for the whole group.
func TestSettlePanic(t *testing.T) {
	ts, _ := startSettling(t, Config{})
	ts.allowPanic = true
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<panic@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
	c.expectReplies("421 4.3.0")
	c.expectClosed()
}

// A panic in the Settle of a connection that is ending is one 421 too.
func TestSettlePanicAtEnd(t *testing.T) {
	ts, _ := startSettling(t, Config{MaxLineLength: 100})
	ts.allowPanic = true
	c := ts.ehloed(t)
	c.Write("MAIL FROM:<panic@example.org>\r\nRCPT TO:<b@example.net>\r\n" + strings.Repeat("x", 200) + "\r\n")
	c.expectReplies("421 4.3.0")
	c.expectClosed()
}

// Later from a Session that cannot settle is a 451, never a 250.
func TestLaterWithoutSettler(t *testing.T) {
	fb := newFakeBackend()
	fb.mail = func(string) *smtp.Reply { return Later }
	ts := startServer(t, Config{}, fb)
	c := ts.ehloed(t)
	c.cmd("MAIL FROM:<a@example.org>", 451, "4.3.0")
	c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
}
