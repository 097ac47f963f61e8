package wasmhost

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// BenchmarkHookCall measures a warm on_data call into a pooled instance
// (docs/DESIGN.md §6 target: under 2 µs).
func BenchmarkHookCall(b *testing.B) {
	for _, name := range []string{"bench", "bench_headers"} {
		b.Run(name, func(b *testing.B) {
			e, _ := newEngine(b)
			p := load(b, e, Spec{Name: name, Wasm: module(b, name), Timeout: 10 * time.Second})
			st := stateAt(b, filter.Data)
			fields := st.Msg.Fields[:len(st.Msg.Fields):len(st.Msg.Fields)]
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				v, err := p.Call(ctx, st)
				if err != nil || v != filter.Continue {
					b.Fatal(i, time.Since(start), v, err)
				}
				st.Commit()
				st.Msg.Fields = fields
			}
		})
	}
}

// BenchmarkNewInstance measures what a call pays when no instance is idle:
// instantiating a first-party Go plugin, _initialize and sluice_configure.
// It is the price of trimming the pool too eagerly.
func BenchmarkNewInstance(b *testing.B) {
	e, _ := newEngine(b)
	p := loadTag(b, e, "tag")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inst, ce := p.take(ctx, filter.Data, time.Now().Add(10*time.Second))
		if ce != nil {
			b.Fatal(ce)
		}
		inst.close(ctx)
	}
}

// loadTag loads the first-party tag plugin, built by make plugins, adding
// the header X-Sluice: scanned.
func loadTag(t testing.TB, e *Engine, name string) *Plugin {
	t.Helper()
	wasm, err := os.ReadFile("../../bin/plugins/tag.wasm")
	if err != nil {
		t.Fatalf("%v (run make plugins)", err)
	}
	return load(t, e, Spec{Name: name, Wasm: wasm, Config: []byte(`{"headers":{"X-Sluice":"scanned"}}`), Timeout: 10 * time.Second})
}
