package console

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
)

func txn(from, outcome string, steps ...filter.Step) *bridge.Transaction {
	return &bridge.Transaction{Start: time.Now(), Session: "s1", ClientIP: netip.MustParseAddr("192.0.2.7"), Helo: "client.example",
		From: from, Rcpts: []string{"Bob@Example.NET"}, Size: 1234, Steps: steps, Outcome: outcome,
		Reply: smtp.NewReply(250, "2.0.0", "Ok: queued as Q1"), QueueID: "Q1"}
}

// The ring keeps the newest N; older ones are gone from List and Get.
func TestRecorderRing(t *testing.T) {
	r := NewRecorder(Options{Size: 3})
	for i := range 5 {
		r.Record(txn("a"+string(rune('0'+i))+"@example.org", "delivered"))
	}
	got := r.List(Filter{}, 0, 100)
	if len(got) != 3 || got[0].ID != 5 || got[2].ID != 3 || got[0].From != "a4@example.org" {
		t.Fatalf("list %+v", got)
	}
	if r.Get(2) != nil || r.Get(6) != nil || r.Get(0) != nil {
		t.Fatal("an evicted or future id was found")
	}
	for id := uint64(3); id <= 5; id++ {
		if e := r.Get(id); e == nil || e.ID != id {
			t.Fatalf("Get(%d) = %+v", id, e)
		}
	}
	if got := r.List(Filter{}, 5, 1); len(got) != 1 || got[0].ID != 4 {
		t.Fatalf("before=5 limit=1: %+v", got)
	}
	if e := r.Get(5); e.Reply != "250 2.0.0 Ok: queued as Q1" || e.Client != "192.0.2.7" || e.Size != 1234 {
		t.Fatalf("entry %+v", e)
	}
}

func TestRecorderFilters(t *testing.T) {
	r := NewRecorder(Options{})
	r.Record(txn("alice@example.org", "delivered"))
	rej := txn("mallory@bad.example", "rejected")
	rej.QueueID = ""
	r.Record(rej)
	cases := []struct {
		f    Filter
		want int
	}{
		{Filter{}, 2},
		{Filter{Address: "ALICE@"}, 1},
		{Filter{Address: "bob@example.net"}, 2},
		{Filter{Address: "bad.example"}, 1},
		{Filter{Outcome: "rejected"}, 1},
		{Filter{Outcome: "discarded"}, 0},
		{Filter{QueueID: "q1"}, 1},
		{Filter{QueueID: "Q1", Outcome: "rejected"}, 0},
	}
	for _, c := range cases {
		if got := len(r.List(c.f, 0, 10)); got != c.want {
			t.Errorf("%+v: %d transactions, want %d", c.f, got, c.want)
		}
	}
}

// With hash_addresses no address is kept in clear, the domain excepted,
// and a whole address still finds its transactions.
func TestRecorderHashesAddresses(t *testing.T) {
	r := NewRecorder(Options{HashAddresses: true})
	tr := txn("alice@example.org", "rejected")
	tr.Refused = []string{"carol@example.net"}
	r.Record(tr)
	e := r.Get(1)
	for _, a := range append([]string{e.From}, append(e.Rcpts, e.Refused...)...) {
		if strings.Contains(strings.ToLower(a), "alice") || strings.Contains(strings.ToLower(a), "bob") || strings.Contains(a, "carol") || !strings.HasPrefix(a, "h-") {
			t.Fatalf("address in clear: %q", a)
		}
	}
	if !strings.HasSuffix(e.From, "@example.org") {
		t.Fatalf("domain lost: %q", e.From)
	}
	if len(r.List(Filter{Address: "Alice@example.org"}, 0, 10)) != 1 || len(r.List(Filter{Address: "dave@example.org"}, 0, 10)) != 0 {
		t.Fatal("filtering by a whole address does not use the hash")
	}
	if len(r.List(Filter{Address: "example.net"}, 0, 10)) != 1 {
		t.Fatal("filtering by domain")
	}
}

// Headers are kept only when asked for; bodies never.
func TestRecorderHeaders(t *testing.T) {
	msg, err := message.Parse([]byte("Subject: secret plans\r\nX-A: 1\r\n\r\nthe body text\r\n"), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		r := NewRecorder(Options{Headers: keep})
		tr := txn("a@example.org", "delivered")
		tr.Msg = msg
		r.Record(tr)
		e := r.Get(1)
		if keep != (len(e.Headers) == 2) {
			t.Fatalf("headers=%v: kept %+v", keep, e.Headers)
		}
		if keep && (e.Headers[0].Name != "Subject" || e.Headers[0].Value != "secret plans") {
			t.Fatalf("headers %+v", e.Headers)
		}
		if strings.Contains(fmtEntry(e), "the body text") {
			t.Fatal("the body was kept")
		}
	}
}

// An entry is bounded whatever the message and the chain: headers in
// number and bytes, steps in number.
func TestRecorderBoundsEntries(t *testing.T) {
	var hdr strings.Builder
	for i := range 500 {
		hdr.WriteString("X-Big-" + strconv.Itoa(i) + ": " + strings.Repeat("v", 990) + "\r\n")
	}
	msg, err := message.Parse([]byte(hdr.String()+"\r\nbody\r\n"), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(Options{Headers: true})
	steps := make([]filter.Step, 5000)
	tr := txn("a@example.org", "delivered", steps...)
	tr.Msg = msg
	r.Record(tr)
	e := r.Get(1)
	total := 0
	for _, h := range e.Headers {
		total += len(h.Name) + len(h.Value)
	}
	if total > maxHeaderTotal || len(e.Headers) == 0 || len(e.Steps) != maxSteps || e.StepsDropped != 5000-maxSteps {
		t.Fatalf("%d header bytes in %d fields, %d steps kept, %d dropped", total, len(e.Headers), len(e.Steps), e.StepsDropped)
	}
}

func fmtEntry(e *Entry) string {
	var b strings.Builder
	b.WriteString(e.From + e.Reply)
	for _, h := range e.Headers {
		b.WriteString(h.Name + h.Value)
	}
	return b.String()
}

func TestRecorderStats(t *testing.T) {
	r := NewRecorder(Options{})
	now := time.Date(2026, 12, 7, 10, 30, 15, 0, time.UTC)
	r.now = func() time.Time { return now }
	for i := 1; i <= 100; i++ {
		tr := txn("a@example.org", "delivered", filter.Step{Plugin: "p", Phase: filter.Data, Verdict: filter.Continue, Duration: time.Duration(i) * time.Millisecond})
		r.now = func() time.Time { return now.Add(-time.Duration(i%3) * time.Minute) }
		r.Record(tr)
	}
	bad := txn("a@example.org", "tempfailed", filter.Step{Plugin: "q", Phase: filter.Mail, Verdict: filter.Tempfail, Err: errors.New("trap")})
	r.now = func() time.Time { return now.Add(-2 * time.Hour) } // the same slot, an hour too old
	r.Record(bad)
	r.now = func() time.Time { return now }
	r.PluginBreaker("q", true)
	r.PluginBreaker("p", true)
	r.PluginBreaker("p", false)
	r.Upstream("data", time.Millisecond, errors.New("connection refused"))
	s := r.Stats()
	if len(s.Series.Minutes) != 60 || s.Series.Minutes[59] != now.Unix()/60*60 {
		t.Fatalf("minutes %v", s.Series.Minutes)
	}
	d := s.Series.Counts["delivered"]
	if d[59] != 33 || d[58] != 34 || d[57] != 33 || sum(s.Series.Counts["tempfailed"]) != 0 {
		t.Fatalf("series %v", s.Series.Counts)
	}
	if len(s.Plugins) != 2 || s.Plugins[0].Plugin != "p" || s.Plugins[0].P50 != int64(50*time.Millisecond) || s.Plugins[0].P99 != int64(99*time.Millisecond) ||
		s.Plugins[1].Faults != 1 || s.Plugins[1].FaultsTotal != 1 {
		t.Fatalf("plugins %+v", s.Plugins)
	}
	if len(s.OpenBreakers) != 1 || s.OpenBreakers[0] != "q" {
		t.Fatalf("breakers %v", s.OpenBreakers)
	}
	if s.Upstream.Errors != 1 || !strings.Contains(s.Upstream.Error, "data: connection refused") || s.Kept != 101 {
		t.Fatalf("stats %+v", s)
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// A live view that does not keep up loses entries, never blocks Record,
// and is told so.
func TestRecorderSlowViewer(t *testing.T) {
	r := NewRecorder(Options{})
	ch, lost, cancel, err := r.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	done := make(chan struct{})
	go func() {
		for range 1000 {
			r.Record(txn("a@example.org", "delivered"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Record blocked on a viewer that does not read")
	}
	if e := <-ch; e.ID != 1 {
		t.Fatalf("first entry %d", e.ID)
	}
	if !lost() || lost() {
		t.Fatal("lost entries not reported exactly once")
	}
	var cancels []func()
	for range maxSubscribers - 1 {
		_, _, c, err := r.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		cancels = append(cancels, c)
	}
	if _, _, _, err := r.Subscribe(); !errors.Is(err, ErrTooManyViewers) {
		t.Fatalf("subscriber %d: %v", maxSubscribers+1, err)
	}
	for _, c := range cancels {
		c()
	}
}

// BenchmarkRecord is the recorder's cost per transaction while nobody
// watches: a transaction of the bench policy's size (6 plugin steps).
func BenchmarkRecord(b *testing.B) {
	for _, opts := range []Options{{}, {HashAddresses: true}} {
		name := "plain"
		if opts.HashAddresses {
			name = "hashed"
		}
		b.Run(name, func(b *testing.B) {
			r := NewRecorder(opts)
			var steps []filter.Step
			for _, ph := range []filter.Phase{filter.Connect, filter.Helo, filter.Mail, filter.Rcpt, filter.Data, filter.Data} {
				steps = append(steps, filter.Step{Plugin: "plugin", Phase: ph, Verdict: filter.Continue, Duration: time.Millisecond})
			}
			tr := txn("sender@example.com", "delivered", steps...)
			b.ReportAllocs()
			for b.Loop() {
				r.Record(tr)
			}
		})
	}
}
