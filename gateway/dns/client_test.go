package dns

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/sluice-mail/sluice/gateway/internal/dnstest"
)

// testServer answers from a fixed zone on 127.0.0.1 and counts queries.
type testServer struct {
	addr    string
	queries atomic.Int32
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.addr = dnstest.Serve(t, mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		ts.queries.Add(1)
		name := q.Question[0].Name
		if name == "slow.test." {
			return // no answer: the client times out
		}
		m := new(mdns.Msg)
		m.SetReply(q)
		switch name {
		case "a.test.":
			if q.Question[0].Qtype == mdns.TypeA {
				rr, _ := mdns.NewRR("a.test. 300 IN A 127.0.0.2")
				rr2, _ := mdns.NewRR("a.test. 300 IN A 127.0.0.3")
				m.Answer = append(m.Answer, rr, rr2)
			}
		case "txt.test.":
			rr, _ := mdns.NewRR(`txt.test. 300 IN TXT "hello " "world"`)
			m.Answer = append(m.Answer, rr)
		case "esc.test.":
			rr, _ := mdns.NewRR(`esc.test. 300 IN TXT "a\"b\\c" "\009\255"`)
			m.Answer = append(m.Answer, rr)
		case "mx.test.":
			rr, _ := mdns.NewRR("mx.test. 300 IN MX 10 mail.test.")
			m.Answer = append(m.Answer, rr)
		case "fail.test.":
			m.Rcode = mdns.RcodeServerFailure
		default:
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	}))
	return ts
}

func TestLookup(t *testing.T) {
	ts := startServer(t)
	c := NewClient(ClientOptions{Servers: []string{ts.addr}, Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	tests := []struct {
		qtype, name string
		want        []string
		err         error
	}{
		{"A", "a.test", []string{"127.0.0.2", "127.0.0.3"}, nil},
		{"a", "A.TEST.", []string{"127.0.0.2", "127.0.0.3"}, nil},
		{"TXT", "txt.test", []string{"hello world"}, nil},
		{"TXT", "esc.test", []string{"a\"b\\c\t\xff"}, nil}, // unescaped, from the wire
		{"MX", "mx.test", []string{"10 mail.test."}, nil},
		{"AAAA", "a.test", nil, ErrNotFound}, // NODATA
		{"A", "nx.test", nil, ErrNotFound},
		{"A", "fail.test", nil, ErrTemporary},
		{"A", "slow.test", nil, ErrTemporary},
		{"SRV", "a.test", nil, ErrNotFound},
		{"A", "", nil, ErrNotFound},
	}
	for _, tt := range tests {
		got, err := c.Lookup(ctx, tt.qtype, tt.name)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("Lookup(%s, %q) error = %v, want %v", tt.qtype, tt.name, err, tt.err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%s, %q) = %q, want %q", tt.qtype, tt.name, got, tt.want)
		}
	}
}

func TestCache(t *testing.T) {
	ts := startServer(t)
	now := time.Unix(1_000_000, 0)
	c := NewClient(ClientOptions{Servers: []string{ts.addr}, Now: func() time.Time { return now }})
	ctx := context.Background()
	for range 3 {
		if _, err := c.Lookup(ctx, "A", "a.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Lookup(ctx, "A", "nx.test"); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		_, _ = c.Lookup(ctx, "A", "fail.test") // temporary: never cached
	}
	if n := ts.queries.Load(); n != 2+3 {
		t.Fatalf("server saw %d queries, want 5 (one per cached name, every failure)", n)
	}
	now = now.Add(61 * time.Second) // negative entry expired, positive not
	_, _ = c.Lookup(ctx, "A", "a.test")
	_, _ = c.Lookup(ctx, "A", "nx.test")
	if n := ts.queries.Load(); n != 6 {
		t.Fatalf("server saw %d queries, want 6", n)
	}
	now = now.Add(300 * time.Second)
	_, _ = c.Lookup(ctx, "A", "a.test")
	if n := ts.queries.Load(); n != 7 {
		t.Fatalf("server saw %d queries, want 7", n)
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(3)
	now := time.Unix(0, 0)
	for i := range 10 {
		c.put(string(rune('a'+i)), cacheEntry{expires: now.Add(time.Hour)}, now)
	}
	if c.len() != 3 {
		t.Fatalf("cache holds %d entries, want 3", c.len())
	}
}
