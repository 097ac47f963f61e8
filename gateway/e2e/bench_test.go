package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// loadGoPlugin loads one of the Go-built first-party plugins; with, if
// given, adjusts its spec (grants, keys, resolver).
func loadGoPlugin(b *testing.B, name, config string, with ...func(*wasmhost.Spec)) *wasmhost.Plugin {
	b.Helper()
	wasm, err := os.ReadFile(plugin(name))
	if err != nil {
		b.Fatal(err)
	}
	e, err := wasmhost.NewEngine(context.Background(), wasmhost.EngineOptions{CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(context.Background()) })
	spec := wasmhost.Spec{Name: name, Wasm: wasm, Config: []byte(config)}
	for _, f := range with {
		f(&spec)
	}
	p, err := e.Load(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// BenchmarkGoPluginRcpt: a warm rcpt hook of the Go-built access plugin
// (glob match on the recipient) in a pooled instance.
func BenchmarkGoPluginRcpt(b *testing.B) {
	p := loadGoPlugin(b, "access", `{"deny_recipients":["blocked@*"]}`)
	st := filter.NewState(&filter.Session{Tags: filter.Tags{}})
	st.Phase, st.From, st.Rcpt = filter.Rcpt, "a@example.org", "b@example.net"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkGoPluginData: the tag plugin's data hook on a 10 KiB message
// (find Subject, prefix it, add a header), state rolled back each time.
func BenchmarkGoPluginData(b *testing.B) {
	p := loadGoPlugin(b, "tag", `{"headers":{"X-Sluice":"scanned"},"subject_prefix":"[T] "}`)
	raw := []byte("From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 160))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m, _ := message.Parse(raw, message.Limits{})
		st := filter.NewState(&filter.Session{Tags: filter.Tags{}})
		st.Phase, st.Msg = filter.Data, m
		if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
			b.Fatal(v, err)
		}
		st.Commit()
	}
}

// benchMessage is a 10 KiB message from sender.test.
var benchMessage = []byte("From: a@sender.test\r\nTo: b@example.net\r\nSubject: hello\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\n" +
	strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 160))

// benchData runs p's data hook on benchMessage, rolled back each time.
func benchData(b *testing.B, p *wasmhost.Plugin) {
	ctx := context.Background()
	sess := &filter.Session{Tags: filter.Tags{}, ClientIP: netip.MustParseAddr("127.0.0.1"), Helo: "client.sender.test"}
	b.ReportAllocs()
	for b.Loop() {
		m, _ := message.Parse(benchMessage, message.Limits{})
		st := filter.NewState(sess)
		st.Phase, st.Msg, st.From = filter.Data, m, "a@sender.test"
		if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
			b.Fatal(v, err)
		}
		st.Commit()
	}
}

// staticDNS answers the SPF and DMARC records of sender.test.
type staticDNS map[string][]string

func (s staticDNS) Lookup(_ context.Context, qtype, name string) ([]string, error) {
	if r, ok := s[qtype+" "+strings.TrimSuffix(name, ".")]; ok {
		return r, nil
	}
	return nil, dns.ErrNotFound
}

// BenchmarkAuthResults: the auth-results data hook on a 10 KiB unsigned
// message, SPF pass and DMARC pass answered from memory.
func BenchmarkAuthResults(b *testing.B) {
	res := staticDNS{"TXT sender.test": {"v=spf1 ip4:127.0.0.0/8 -all"}, "TXT _dmarc.sender.test": {"v=DMARC1; p=none"}}
	p := loadGoPlugin(b, "auth-results", `{"authserv_id":"mx.example"}`, func(s *wasmhost.Spec) {
		s.Grants, s.Resolver = []string{"dns"}, res
	})
	benchData(b, p)
}

// BenchmarkDKIMSign: the dkim-sign data hook with an ed25519 key on a
// 10 KiB message.
func BenchmarkDKIMSign(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key := &dkimsign.Key{Name: "k", Domain: "sender.test", Selector: "s", Signer: priv, Algorithm: dkimsign.AlgorithmEd25519}
	p := loadGoPlugin(b, "dkim-sign", `{}`, func(s *wasmhost.Spec) {
		s.Grants, s.DKIMKeys = []string{"dkim:k"}, []*dkimsign.Key{key}
	})
	benchData(b, p)
}
