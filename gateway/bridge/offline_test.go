package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/internal/smtptest"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// liveReply runs one transaction through a gateway on a loopback port in
// front of a fake MTA and returns the first reply that is not a success,
// or DATA's final reply.
func liveReply(t *testing.T, entries []filter.Entry, body string) string {
	t.Helper()
	mta := fakemta.Start(t)
	g := startGateway(t, smtpUp(mta, 5*time.Second), entries...)
	conn, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &client{smtptest.New(t, conn)}
	c.expect("220")
	for _, line := range []string{"EHLO client.test", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>"} {
		fmt.Fprintf(conn, "%s\r\n", line)
		if r := c.Reply(); !strings.HasPrefix(r, "250") {
			return r
		}
	}
	fmt.Fprintf(conn, "DATA\r\n")
	c.expect("354")
	fmt.Fprintf(conn, "%s.\r\n", body)
	return c.Reply()
}

// RunTest (`sluice test`) drives the same session code as a live
// connection: for every kind of verdict, in every phase, it answers what
// the gateway answers a real client.
func TestRunTestAnswersLikeTheGateway(t *testing.T) {
	refuse := func(ph filter.Phase, v filter.Verdict, code int, enh string) filter.Entry {
		return filter.Entry{Name: "p", Plugin: &hook{phase: ph, fn: func(st *filter.State) (filter.Verdict, error) {
			st.Reply = smtp.NewReply(code, enh, "Refused by test plugin")
			return v, nil
		}}}
	}
	trap := filter.Entry{Name: "trap", Plugin: &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		return filter.Continue, errors.New("wasm trap")
	}}}
	discard := filter.Entry{Name: "d", Plugin: &hook{phase: filter.Data, fn: func(*filter.State) (filter.Verdict, error) { return filter.Discard, nil }}}
	const body = "Subject: test\r\nFrom: a@example.org\r\n\r\nhello\r\n"
	for _, tc := range []struct {
		name    string
		entries []filter.Entry
		action  string
	}{
		{"connect reject", []filter.Entry{refuse(filter.Connect, filter.Reject, 550, "5.7.1")}, "reject"},
		{"helo tempfail", []filter.Entry{refuse(filter.Helo, filter.Tempfail, 450, "4.7.1")}, "tempfail"},
		{"mail reject", []filter.Entry{refuse(filter.Mail, filter.Reject, 553, "5.7.1")}, "reject"},
		{"rcpt tempfail", []filter.Entry{refuse(filter.Rcpt, filter.Tempfail, 451, "4.7.1")}, "tempfail"},
		{"data reject", []filter.Entry{refuse(filter.Data, filter.Reject, 554, "5.7.1")}, "reject"},
		{"data fault", []filter.Entry{trap}, "tempfail"},
		{"discard", []filter.Entry{discard}, "discard"},
		{"tagged and delivered", []filter.Entry{{Name: "tag", Plugin: tagger()}}, "accept"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := liveReply(t, tc.entries, body)
			gen := &Generation{Policy: &policy.Policy{}, chain: &filter.Chain{Entries: tc.entries}, hostname: "sluice.test",
				log: slog.New(slog.DiscardHandler), obs: nopObserver{}, limits: message.Limits{MaxHeaderBytes: 64 << 10, MaxHeaderFields: 1000}}
			gen.refs.Store(1)
			res := RunTest(context.Background(), gen, TestInput{ClientIP: "127.0.0.1", Helo: "client.test",
				From: "a@example.org", Rcpts: []string{"b@example.net"}, Message: []byte(body)})
			if want := fmt.Sprintf("%d %s ", res.Code, res.Enhanced); !strings.HasPrefix(live, want) || res.Action != tc.action {
				t.Errorf("sluice test: %s %q (%s); the gateway answered %q", res.Action, want, res.Phase, live)
			}
			if tc.action == "accept" && !strings.Contains(res.Message, "X-Tagged: yes") {
				t.Errorf("the delivered message lacks the tag:\n%s", res.Message)
			}
		})
	}
}
