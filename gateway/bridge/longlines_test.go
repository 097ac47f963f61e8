package bridge

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
)

// TestOverlongLinesRefused is the attack of ISSUE 9 §4: a 20,000-byte
// header line and a 50,000-byte body line, over max_line_length (2048),
// are refused with 552 5.3.4 at the end of DATA; nothing reaches the
// downstream, no plugin runs, and the session goes on.
func TestOverlongLinesRefused(t *testing.T) {
	mta := fakemta.Start(t)
	tag := tagger()
	g := startGateway(t, smtpUp(mta, 5*time.Second), filter.Entry{Name: "tag", Plugin: tag})
	c := dial(t, g.addr)
	for _, body := range []string{
		"Subject: " + strings.Repeat("h", 20000) + "\r\n\r\nbody",
		"Subject: long body\r\n\r\n" + strings.Repeat("b", 50000),
	} {
		if got := c.send("a@example.org", []string{"b@example.net"}, body); !strings.HasPrefix(got, "552 5.3.4 ") {
			t.Fatalf("final reply %q, want 552 5.3.4", got)
		}
	}
	if n := len(mta.Messages()); n != 0 || tag.calls.Load() != 0 {
		t.Fatalf("downstream got %d messages, plugin ran %d times", n, tag.calls.Load())
	}
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); !strings.HasPrefix(got, "250 2.0.0") {
		t.Fatalf("next message: %q", got)
	}
}

// TestLongSubjectPrefixed: a 1,500-byte Subject (legal: its lines are
// within max_line_length) changed by a data-phase plugin is delivered,
// folded at 998 bytes, instead of getting 451 forever.
func TestLongSubjectPrefixed(t *testing.T) {
	mta := fakemta.Start(t)
	prefix := &hook{phase: filter.Data, fn: func(st *filter.State) (filter.Verdict, error) {
		i := st.Msg.Find([]byte("Subject"), 0)
		v := append([]byte("[EXT] "), st.Msg.Fields[i].Value()...)
		st.Touch()
		if _, err := st.Msg.Change(i, v); err != nil {
			return filter.Continue, err
		}
		return filter.Continue, nil
	}}
	g := startGateway(t, smtpUp(mta, 5*time.Second), filter.Entry{Name: "prefix", Plugin: prefix, OnError: filter.OnErrorTempfail})
	c := dial(t, g.addr)
	words := strings.Repeat("word ", 299) + "word" // 1499 bytes
	for i, subject := range []string{words, "hi\r\n " + words} {
		body := fmt.Sprintf("Subject: %s\r\nFrom: a@example.org\r\n\r\nbody %d", subject, i)
		if got := c.send("a@example.org", []string{"b@example.net"}, body); !strings.HasPrefix(got, "250 2.0.0") {
			t.Fatalf("subject %d: final reply %q", i, got)
		}
		msgs := mta.Messages()
		if len(msgs) != i+1 {
			t.Fatalf("downstream got %d messages", len(msgs))
		}
		data := msgs[i].Data
		for _, line := range bytes.Split(data, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("downstream line of %d bytes", len(line))
			}
		}
		head, _, _ := bytes.Cut(data, []byte("\r\nFrom:"))
		if got, want := strings.ReplaceAll(string(head), "\r\n", ""), "Subject: [EXT] "+strings.ReplaceAll(subject, "\r\n", ""); got != want {
			t.Fatalf("unfolded subject %.80q, want %.80q", got, want)
		}
	}
}
