package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/fakemta"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

func TestQueueID(t *testing.T) {
	cases := []struct {
		name string
		r    *smtp.Reply
		want string
	}{
		{"postfix", smtp.NewReply(250, "2.0.0", "Ok: queued as 4XyZ123"), "4XyZ123"},
		{"postfix long id", smtp.NewReply(250, "2.0.0", "Ok: queued as 4dKq0T6Xzbz9tCL"), "4dKq0T6Xzbz9tCL"},
		{"other case", smtp.NewReply(250, "", "Queued As a.b-c_d"), "a.b-c_d"},
		{"text after the id", smtp.NewReply(250, "2.0.0", "Ok: queued as ID9 <script>"), "ID9"},
		{"second line", &smtp.Reply{Code: 250, Lines: []string{"Ok", "queued as Q2"}}, "Q2"},
		{"hostile id", smtp.NewReply(250, "2.0.0", "Ok: queued as <evil\x01>"), ""},
		{"control char in id", smtp.NewReply(250, "2.0.0", "Ok: queued as AB\x01CD"), ""},
		{"non-ASCII before", smtp.NewReply(250, "2.0.0", "İİ queued as Q3"), "Q3"},
		{"too long", smtp.NewReply(250, "2.0.0", "Ok: queued as "+strings.Repeat("A", 65)), ""},
		{"longest", smtp.NewReply(250, "2.0.0", "Ok: queued as "+strings.Repeat("A", 64)), strings.Repeat("A", 64)},
		{"empty id", smtp.NewReply(250, "2.0.0", "Ok: queued as "), ""},
		{"sendmail", smtp.NewReply(250, "2.0.0", "5AB12cd Message accepted for delivery"), ""},
		{"exim", smtp.NewReply(250, "", "OK id=1tXyZ-000abc-12"), ""},
		{"maildir", smtp.NewReply(250, "2.0.0", "Ok: delivered to maildir as 1.M2P3Q4.host"), ""},
		{"none", nil, ""},
	}
	for _, tc := range cases {
		if got := queueID(tc.r); got != tc.want {
			t.Errorf("%s: queueID %q, want %q", tc.name, got, tc.want)
		}
	}
}

// logSink collects a gateway's JSON log and says when something was written.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // capacity 1: written since the last wait
}

func newLogSink() *logSink { return &logSink{wrote: make(chan struct{}, 1)} }

func (l *logSink) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// records returns the records logged with message msg so far.
func (l *logSink) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// waitFor waits until n records with message msg were logged.
func (l *logSink) waitFor(t *testing.T, msg string, n int) []map[string]any {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if recs := l.records(t, msg); len(recs) >= n {
			return recs
		}
		select {
		case <-l.wrote:
		case <-deadline.C:
			t.Fatalf("%d %q records logged, want %d", len(l.records(t, msg)), msg, n)
		}
	}
}

// The client learns the downstream's queue id and nothing else of its text;
// the log has both (docs/TESTPLAN.md row 35).
func TestDownstreamQueueIDRelayed(t *testing.T) {
	cases := []struct {
		text       string // the downstream's end-of-data reply text after "250 2.0.0 "
		client     string // what the client sees
		queueID    string // logged; "" for none
		downstream string // logged
	}{
		{"Ok: queued as ABC123", "250 2.0.0 Ok: queued as ABC123", "ABC123", "250 2.0.0 Ok: queued as ABC123"},
		{"Ok: queued as <evil\x01>", "250 2.0.0 Ok: queued", "", "250 2.0.0 Ok: queued as <evil?>"},
		{"Ok: queued as ID9 <a href=x>click</a>", "250 2.0.0 Ok: queued as ID9", "ID9", "250 2.0.0 Ok: queued as ID9 <a href=x>click</a>"},
		{"5AB12cd Message accepted for delivery", "250 2.0.0 Ok: queued", "", "250 2.0.0 5AB12cd Message accepted for delivery"},
	}
	var opts []fakemta.Option
	for i, tc := range cases {
		opts = append(opts, fakemta.OnNth(fakemta.EndOfData, i+1, fakemta.Reply(250, "2.0.0", tc.text)))
	}
	mta := fakemta.Start(t, opts...)
	logs := newLogSink()
	g := startLogged(t, smtpUp(mta, 5*time.Second), logs.logger())
	c := dial(t, g.addr)
	for i, tc := range cases {
		if got := c.send("a@example.org", []string{"b@example.net"}, msg); got != tc.client {
			t.Fatalf("%q: client got %q, want %q", tc.text, got, tc.client)
		}
		rec := logs.waitFor(t, "message delivered", i+1)[i]
		if id, ok := rec["queue_id"]; tc.queueID == "" && ok || tc.queueID != "" && id != tc.queueID {
			t.Errorf("%q: logged queue_id %v, want %q", tc.text, id, tc.queueID)
		}
		if rec["downstream_reply"] != tc.downstream {
			t.Errorf("%q: logged downstream_reply %q, want %q", tc.text, rec["downstream_reply"], tc.downstream)
		}
	}
	if n := len(mta.Messages()); n != len(cases) {
		t.Fatalf("downstream got %d messages", n)
	}
}

// docs/TESTPLAN.md row 35: the downstream answered 250, then the client's
// connection died before it read the reply. The message stays delivered,
// once, and is logged with its queue id; the sender's retry delivers a
// duplicate, which the two queue ids in the log make traceable.
func TestClientGoneAfterFinalDot(t *testing.T) {
	mta := fakemta.Start(t,
		fakemta.OnNth(fakemta.EndOfData, 1, fakemta.Reply(250, "2.0.0", "Ok: queued as Q35A")),
		fakemta.OnNth(fakemta.EndOfData, 2, fakemta.Reply(250, "2.0.0", "Ok: queued as Q35B")))
	logs := newLogSink()
	g := startLogged(t, smtpUp(mta, 5*time.Second), logs.logger())

	c := dial(t, g.addr)
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<b@example.net>", "250")
	c.cmd("DATA", "354")
	if _, err := fmt.Fprintf(c.Conn, "%s\r\n.\r\n", msg); err != nil {
		t.Fatal(err)
	}
	c.Conn.(*net.TCPConn).CloseWrite() // the client's FIN follows the final dot at once
	c.Conn.Close()                     // and it never reads the reply

	rec := logs.waitFor(t, "message delivered", 1)[0]
	if rec["queue_id"] != "Q35A" || rec["from"] != "a@example.org" {
		t.Fatalf("delivery logged as %v", rec)
	}
	logs.waitFor(t, "connection closed", 1)
	if n := len(mta.Messages()); n != 1 {
		t.Fatalf("downstream got %d messages, want 1", n)
	}

	// The sender did not see the 250 and retries: a duplicate, accepted.
	c = dial(t, g.addr)
	if got := c.send("a@example.org", []string{"b@example.net"}, msg); got != "250 2.0.0 Ok: queued as Q35B" {
		t.Fatalf("retry: %q", got)
	}
	recs := logs.waitFor(t, "message delivered", 2)
	if recs[1]["queue_id"] != "Q35B" {
		t.Fatalf("retry logged as %v", recs[1])
	}
	msgs := mta.Messages()
	if len(msgs) != 2 || !bytes.Equal(msgs[0].Data, msgs[1].Data) {
		t.Fatalf("downstream messages %+v", msgs)
	}
}
