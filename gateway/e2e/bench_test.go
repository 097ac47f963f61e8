package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// loadGoPlugin loads one of the Go-built first-party plugins.
func loadGoPlugin(b *testing.B, name, config string) *wasmhost.Plugin {
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
	p, err := e.Load(context.Background(), wasmhost.Spec{Name: name, Wasm: wasm, Config: []byte(config)})
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
