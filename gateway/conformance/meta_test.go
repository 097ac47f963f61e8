package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// metaVector reports each module's size, the time to load it again from
// compiled code (instantiation, _initialize, sluice_abi_version,
// sluice_configure, sluice_hooks), the memory of a fresh instance, and the
// probe's mail hook on a warm and on a fresh instance. The numbers are
// reports (go test -v), not pass/fail (the best of a few rounds; the first
// compilation shows as the duration of the first vector of each language);
// the vector fails only if a module cannot be loaded again or a fresh
// instance fails.
func metaVector(t *testing.T, r rig) {
	ctx := context.Background()
	for _, m := range []struct {
		what string
		wasm []byte
	}{{"example", r.example}, {"probe", r.probe}} {
		best := time.Duration(1 << 62)
		var st wasmhost.Stats
		for i := 0; i < metaRounds(); i++ {
			start := time.Now()
			p, err := r.eng.Load(ctx, wasmhost.Spec{Name: m.what, Wasm: m.wasm})
			if err != nil {
				t.Fatalf("%s: Load: %v", m.what, err)
			}
			best = min(best, time.Since(start))
			st = p.Stats()
			p.Close(ctx)
		}
		if st.Idle != 1 || st.IdleMemory == 0 {
			t.Errorf("%s: pool after Load %+v, want one instance with memory", m.what, st)
		}
		t.Logf("%s %s: module %d bytes, load from compiled code %v, instance memory %d KiB",
			r.name, m.what, len(m.wasm), best.Round(time.Microsecond), st.IdleMemory>>10)
	}

	// A fresh instance: after a trap the probe's instance is discarded, so
	// the next call instantiates one (and runs _initialize and
	// sluice_configure) before calling the hook.
	p := loadProbe(t, r, wasmhost.Spec{MaxIdle: 1})
	c := chainOf(entry(p, filter.OnErrorContinue))
	mail := func(from string) (time.Duration, filter.Outcome) {
		s := newSessionRun(t, c)
		start := time.Now()
		out := s.mail(from)
		return time.Since(start), out
	}
	warm, fresh := time.Duration(1<<62), time.Duration(1<<62)
	for i := 0; i < metaRounds(); i++ {
		d, out := mail("alice@example.org")
		noErrors(t, "warm mail", out)
		warm = min(warm, d)
		if _, out := mail("trap@example.org"); len(out.Steps) != 1 || out.Steps[0].Err == nil {
			t.Fatalf("trap@ did not fault: %v", out.Verdict)
		}
		d, out = mail("alice@example.org")
		noErrors(t, "fresh mail", out)
		fresh = min(fresh, d)
	}
	t.Logf("%s probe: warm mail call %v, on a fresh instance %v", r.name, warm.Round(time.Microsecond), fresh.Round(time.Microsecond))
}

// BenchmarkHook measures a warm hook call per language: the example
// filter's on_rcpt with a recipient it lets through (one info call), on a
// pooled instance, without the chain.
func BenchmarkHook(b *testing.B) {
	eng := newEngine(b)
	for _, name := range langsToTest(b) {
		b.Run(name, func(b *testing.B) {
			l := readLang(b, name)
			p := load(b, eng, l.example, wasmhost.Spec{Name: "example"})
			st := filter.NewState(newSession())
			st.Phase, st.From, st.Rcpt = filter.Rcpt, "alice@example.org", "bob@example.net"
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
					b.Fatal(v, err)
				}
			}
		})
	}
}

// metaRounds is how many times each measurement is taken (fewer under the
// race detector, where instantiating a Go module takes about half a second).
func metaRounds() int {
	if raceEnabled {
		return 1
	}
	return 5
}
