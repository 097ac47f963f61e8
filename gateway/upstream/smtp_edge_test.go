package upstream

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

func wantReply(t *testing.T, err error, code int, enhanced string) *smtp.Reply {
	t.Helper()
	var r *smtp.Reply
	if !errors.As(err, &r) {
		t.Fatalf("got %v, want a %d reply", err, code)
	}
	if r.Code != code || r.Enhanced != enhanced {
		t.Fatalf("got reply %d %q, want %d %q", r.Code, r.Enhanced, code, enhanced)
	}
	return r
}

func wantLost(t *testing.T, err error) {
	t.Helper()
	if classify(err) != lost {
		t.Fatalf("got %v (%v), want a lost connection", classify(err), err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newTestSMTP(addr, shortTimeout).Open(testCtx(t), Identity{})
	if classify(err) != unreachable {
		t.Fatalf("closed port: %v", err)
	}

	m := fakemta.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = newTestSMTP(m.Addr(), shortTimeout).Open(ctx, Identity{})
	if classify(err) != unreachable || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Open: %v", err)
	}
}

func TestGreetingRejectKeepsReplyForLogs(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.Greeting, fakemta.Reject(554, "5.3.2", "No\x07 service")))
	_, err := newTestSMTP(m.Addr(), shortTimeout).Open(testCtx(t), Identity{})
	if classify(err) != unreachable {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "554 5.3.2 No? service") {
		t.Errorf("error %q lacks the sanitized reply", err)
	}
}

func TestHeloFallback(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.Ehlo, fakemta.Reject(502, "5.5.1", "No EHLO here")))
	c := open(t, m, shortTimeout)
	ctx := testCtx(t)
	// Without EHLO no extension is known, so 8-bit content is refused.
	wantReply(t, c.Mail(ctx, "a@x.test", "BODY=8BITMIME"), 554, "5.6.3")
	if err := send(ctx, c, "a@x.test", []string{"b@y.test"}, rawMsg("hi\r\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{"EHLO gw.test", "HELO gw.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "DATA"}
	if got := m.Commands(); !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
	m2 := fakemta.Start(t, fakemta.On(fakemta.Ehlo, fakemta.Reject(502, "5.5.1", "No")), fakemta.On(fakemta.Helo, fakemta.Reject(550, "5.7.1", "No")))
	if _, err := newTestSMTP(m2.Addr(), shortTimeout).Open(ctx, Identity{}); classify(err) != unreachable {
		t.Errorf("HELO refused: %v", err)
	}
}

func TestRepliesSanitized(t *testing.T) {
	lines := "550-5.7.1 bad\x01text\xff\r\n550-5.7.1 second\r\n"
	for range 10 {
		lines += "550-5.7.1 more\r\n"
	}
	lines += "550 5.7.1 x\r\n"
	m := fakemta.Start(t, fakemta.On(fakemta.Rcpt, fakemta.Send(lines)))
	c := open(t, m, shortTimeout)
	ctx := testCtx(t)
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	r := wantReply(t, c.Rcpt(ctx, "b@y.test", ""), 550, "5.7.1")
	if len(r.Lines) != 8 || r.Lines[0] != "bad?text?" || r.Lines[1] != "second" {
		t.Errorf("lines %q", r.Lines)
	}

	m2 := fakemta.Start(t, fakemta.On(fakemta.EndOfData, fakemta.Send("451 5.1.1 class mismatch\r\n")))
	c2 := open(t, m2, shortTimeout)
	err := send(ctx, c2, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n"))
	r = wantReply(t, err, 451, "")
	if r.Enhanced != "" || r.Lines[0] != "5.1.1 class mismatch" {
		t.Errorf("enhanced %q lines %q", r.Enhanced, r.Lines)
	}
}

// A reply that breaks SMTP framing (NUL, bare LF) is not a reply: the
// connection is treated as lost, which the client sees as 451 4.4.2.
func TestMalformedReplyLosesConnection(t *testing.T) {
	for _, bad := range []string{"451 4.1.1 nul\x00byte\r\n", "250 2.1.0 ok\n"} {
		m := fakemta.Start(t, fakemta.On(fakemta.Mail, fakemta.Send(bad)))
		c := open(t, m, shortTimeout)
		wantLost(t, c.Mail(testCtx(t), "a@x.test", ""))
	}
}

// A reply the dialogue does not allow loses the connection.
func TestUnexpectedReplyCode(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.Mail, fakemta.Reply(354, "", "Go ahead?")))
	c := open(t, m, shortTimeout)
	wantLost(t, c.Mail(testCtx(t), "a@x.test", ""))

	m2 := fakemta.Start(t, fakemta.On(fakemta.DataCmd, fakemta.Reply(250, "2.0.0", "Ok")))
	c2 := open(t, m2, shortTimeout)
	wantLost(t, send(testCtx(t), c2, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n")))
}

// A 421 that does not close the connection: the client ends it anyway
// (RFC 5321 §3.8), and writes nothing more.
func Test421WithoutClose(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.Rcpt, fakemta.Reply(421, "4.4.2", "Too busy")))
	c := open(t, m, shortTimeout)
	ctx := testCtx(t)
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt(ctx, "b@y.test", ""), 421, "4.4.2")
	wantLost(t, c.Rcpt(ctx, "c@y.test", ""))
	c.Close()
	want := []string{"EHLO gw.test", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>"}
	if got := m.Commands(); !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
}

// A message that cannot be read completely must not be terminated: the
// downstream then discards what it got (never lose or truncate mail).
func TestBrokenMessageNotTerminated(t *testing.T) {
	for name, opts := range modes {
		t.Run(name, func(t *testing.T) {
			m := fakemta.Start(t, opts...)
			c := open(t, m, shortTimeout)
			ctx := testCtx(t)
			err := send(ctx, c, "a@x.test", []string{"b@y.test"}, brokenMsg("Subject: half\r\n\r\nfirst half\r\n"))
			wantLost(t, err)
			wantLost(t, c.Reset(ctx))
			c.Close()
			if n := len(m.Messages()); n != 0 {
				t.Fatalf("%d partial messages accepted", n)
			}
		})
	}
}

func TestContextCancelMidCall(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.Rcpt, fakemta.Hang()))
	c := open(t, m, time.Minute)
	ctx, cancel := context.WithCancel(testCtx(t))
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-m.Reached(fakemta.Rcpt)
		cancel()
	}()
	start := time.Now()
	err := c.Rcpt(ctx, "b@y.test", "")
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancellation took %v", time.Since(start))
	}
	wantLost(t, err)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	wantLost(t, c.Reset(testCtx(t)))
}

func TestContextDeadlineBeforeTimeout(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.EndOfData, fakemta.Hang()))
	c := open(t, m, time.Minute)
	ctx, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := send(ctx, c, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n"))
	if time.Since(start) > 10*time.Second {
		t.Errorf("deadline took %v", time.Since(start))
	}
	wantLost(t, err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
}

// A call with a finished context writes nothing and leaves the connection
// usable.
func TestContextDoneBeforeCall(t *testing.T) {
	m := fakemta.Start(t)
	c := open(t, m, shortTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Mail(ctx, "a@x.test", ""); classify(err) != lost || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if err := send(testCtx(t), c, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := m.Transactions(); got != 1 {
		t.Errorf("%d transactions", got)
	}
}

func TestMailParams(t *testing.T) {
	ctx := testCtx(t)
	lastMail := func(m *fakemta.MTA) string {
		cmds := m.Commands()
		for i := len(cmds) - 1; i >= 0; i-- {
			if strings.HasPrefix(cmds[i], "MAIL") {
				return cmds[i]
			}
		}
		return ""
	}

	// go-smtp advertises SIZE and 8BITMIME, not DSN or AUTH.
	m := fakemta.Start(t)
	c := open(t, m, shortTimeout)
	if err := c.Mail(ctx, "a@x.test", "SIZE=100 body=8BITMIME RET=FULL XFOO=1 AUTH=<>"); err != nil {
		t.Fatal(err)
	}
	if got, want := lastMail(m), "MAIL FROM:<a@x.test> SIZE=100 body=8BITMIME"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	m2 := fakemta.Start(t, fakemta.Extensions("PIPELINING"))
	c2 := open(t, m2, shortTimeout)
	wantReply(t, c2.Mail(ctx, "a@x.test", "BODY=8BITMIME"), 554, "5.6.3")
	wantReply(t, c2.Mail(ctx, "a@x.test", "BODY=BINARYMIME"), 554, "5.6.3")
	wantReply(t, c2.Mail(ctx, "a@x.test", "SMTPUTF8"), 554, "5.6.7")
	wantReply(t, c2.Mail(ctx, "a@x.test", "REQUIRETLS"), 550, "5.7.30")
	if m2.Transactions() != 0 {
		t.Fatalf("refused MAIL was sent: %q", m2.Commands())
	}
	if err := c2.Mail(ctx, "a@x.test", "BODY=7BIT SIZE=5"); err != nil {
		t.Fatal(err)
	}
	if got, want := lastMail(m2), "MAIL FROM:<a@x.test>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := c2.Rcpt(ctx, "b@y.test", "NOTIFY=NEVER"); err != nil {
		t.Fatal(err)
	}

	m3 := fakemta.Start(t, fakemta.Extensions("DSN", "SMTPUTF8", "8BITMIME", "SIZE"))
	c3 := open(t, m3, shortTimeout)
	if err := c3.Mail(ctx, "ä@x.test", "RET=HDRS ENVID=id1 SMTPUTF8 BODY=8BITMIME SIZE=9"); err != nil {
		t.Fatal(err)
	}
	if err := c3.Rcpt(ctx, "b@y.test", "NOTIFY=NEVER ORCPT=rfc822;b@y.test XBAR"); err != nil {
		t.Fatal(err)
	}
	want := []string{"MAIL FROM:<ä@x.test> RET=HDRS ENVID=id1 SMTPUTF8 BODY=8BITMIME SIZE=9", "RCPT TO:<b@y.test> NOTIFY=NEVER ORCPT=rfc822;b@y.test"}
	if got := m3.Commands()[1:]; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := m2.Commands()[len(m2.Commands())-1]; got != "RCPT TO:<b@y.test>" {
		t.Errorf("DSN parameter sent to a server without DSN: %q", got)
	}
}

func TestCommandInjectionRefused(t *testing.T) {
	m := fakemta.Start(t)
	c := open(t, m, shortTimeout)
	ctx := testCtx(t)
	wantReply(t, c.Mail(ctx, "a@x.test>\r\nRCPT TO:<evil@x.test", ""), 501, "5.5.2")
	wantReply(t, c.Mail(ctx, "a@x.test", "SIZE=1\nRSET"), 501, "5.5.2")
	if err := c.Mail(ctx, "a@x.test", ""); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt(ctx, "b@y.test\x00", ""), 501, "5.5.2")
	wantReply(t, c.Rcpt(ctx, "b@y.test", "NOTIFY=NEVER\r\nDATA"), 501, "5.5.2")
	want := []string{"EHLO gw.test", "MAIL FROM:<a@x.test>"}
	if got := m.Commands(); !slices.Equal(got, want) {
		t.Errorf("commands %q, want %q", got, want)
	}
}

func TestClose(t *testing.T) {
	m := fakemta.Start(t)
	c := open(t, m, shortTimeout)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantLost(t, c.Mail(testCtx(t), "a@x.test", ""))
	if got := m.Commands(); !slices.Equal(got, []string{"EHLO gw.test", "QUIT"}) {
		t.Errorf("commands %q", got)
	}

	// No QUIT on a connection that was lost.
	m2 := fakemta.Start(t, fakemta.On(fakemta.Mail, fakemta.Shutdown()))
	c2 := open(t, m2, shortTimeout)
	wantReply(t, c2.Mail(testCtx(t), "a@x.test", ""), 421, "4.3.2")
	c2.Close()
	if got := m2.Commands(); slices.Contains(got, "QUIT") {
		t.Errorf("QUIT after 421: %q", got)
	}
}

// Close from another goroutine aborts a call in flight.
func TestCloseAbortsCall(t *testing.T) {
	m := fakemta.Start(t, fakemta.On(fakemta.Mail, fakemta.Hang()))
	c := open(t, m, time.Minute)
	go func() {
		<-m.Reached(fakemta.Mail)
		c.Close()
	}()
	start := time.Now()
	wantLost(t, c.Mail(testCtx(t), "a@x.test", ""))
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

// Faults, timeouts and cancellations leave no goroutine behind, on either
// side, once the connections are closed (docs/TESTPLAN.md invariants).
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	for _, a := range []fakemta.Action{fakemta.Hang(), fakemta.Drop(), fakemta.Endless(), fakemta.Shutdown(), fakemta.Accept()} {
		t.Run("", func(t *testing.T) {
			m := fakemta.Start(t, fakemta.On(fakemta.EndOfData, a))
			c := open(t, m, shortTimeout)
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			send(ctx, c, "a@x.test", []string{"b@y.test"}, rawMsg("x\r\n"))
			c.Close()
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
