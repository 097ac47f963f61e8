package bridge

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

// The recipient list that rcpt_count and rcpt_get read (len(st.Rcpts),
// sdk/ABI.md §4.2 "rcpt_count and rcpt_get by phase") holds only
// recipients every plugin let through and the downstream accepted: in rcpt
// it does not count the recipient being checked, in data it is the
// recipients the message goes to, and a new transaction starts at 0.
func TestRcptCountByPhase(t *testing.T) {
	// The downstream refuses its second RCPT (c@, after the plugin refused b@).
	mta := fakemta.Start(t, fakemta.OnNth(fakemta.Rcpt, 2, fakemta.Reply(550, "5.1.1", "no such user")))
	var mu sync.Mutex
	var seen []string
	record := func(ph filter.Phase) *hook {
		return &hook{phase: ph, fn: func(st *filter.State) (filter.Verdict, error) {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%v %s %d", ph, st.Rcpt, len(st.Rcpts)))
			mu.Unlock()
			if st.Rcpt == "b@example.net" {
				st.Reply = smtp.NewReply(550, "5.7.1", "Denied by test plugin")
				return filter.Reject, nil
			}
			return filter.Continue, nil
		}}
	}
	g := startGateway(t, smtpUp(mta, 5*time.Second),
		filter.Entry{Name: "m", Plugin: record(filter.Mail)},
		filter.Entry{Name: "r", Plugin: record(filter.Rcpt)},
		filter.Entry{Name: "d", Plugin: record(filter.Data)})
	c := dial(t, g.addr)
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<a@example.net>", "250")
	c.cmd("RCPT TO:<b@example.net>", "550 5.7.1")
	c.cmd("RCPT TO:<c@example.net>", "550 5.1.1")
	c.cmd("RCPT TO:<d@example.net>", "250")
	c.cmd("DATA", "354")
	fmt.Fprintf(c.Conn, "%s\r\n.\r\n", msg)
	c.expect("250")
	if got := c.send("a@example.org", []string{"e@example.net"}, msg); !strings.HasPrefix(got, "250") {
		t.Fatalf("second transaction: %q", got)
	}

	want := []string{
		"mail  0",
		"rcpt a@example.net 0",
		"rcpt b@example.net 1",
		"rcpt c@example.net 1",
		"rcpt d@example.net 1",
		"data  2",
		"mail  0",
		"rcpt e@example.net 0",
		"data  1",
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Errorf("recipients counted:\n got %q\nwant %q", seen, want)
	}
	if msgs := mta.Messages(); len(msgs) != 2 || !slices.Equal(msgs[0].Rcpts, []string{"a@example.net", "d@example.net"}) {
		t.Errorf("downstream messages: %+v", msgs)
	}
}
