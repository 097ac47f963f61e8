package wasmhost

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// TestStats: Stats counts the idle instances and sums their linear memory,
// which follows memory.grow in a hook; a faulting call's instance leaves the
// pool.
func TestStats(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "grower", Wasm: watModule(t, `(module
		(memory (export "memory") 2)
		(func (export "sluice_abi_version") (result i32) (i32.const 1))
		(func (export "sluice_on_mail") (result i32)
			(drop (memory.grow (i32.const 3)))
			(i32.const 0))
		(func (export "sluice_on_rcpt") (result i32) unreachable))`)})
	if got, want := p.Stats(), (Stats{Idle: 1, IdleMemory: 2 * pageSize}); got != want {
		t.Fatalf("after Load: %+v, want %+v", got, want)
	}
	ctx := context.Background()
	if _, err := p.Call(ctx, stateAt(t, filter.Mail)); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Stats(), (Stats{Idle: 1, IdleMemory: 5 * pageSize}); got != want {
		t.Fatalf("after a growing call: %+v, want %+v", got, want)
	}
	if _, err := p.Call(ctx, stateAt(t, filter.Rcpt)); err == nil {
		t.Fatal("unreachable did not fail the call")
	}
	if got := p.Stats(); got != (Stats{}) {
		t.Fatalf("after a fault: %+v, want an empty pool", got)
	}
}

// The instances a burst of concurrent calls created are closed once they
// have been idle for idleTimeout, down to minIdle; steady load keeps using
// the most recent one.
func TestPoolTrimsIdleInstances(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "pool", Wasm: module(t, "good")})
	clock := time.Unix(1_000_000_000, 0)
	p.now = func() time.Time { return clock }
	ctx := context.Background()

	burstInstances(t, p, 5)
	if n := len(p.idleInstances()); n != 5 {
		t.Fatalf("%d idle instances after a burst of 5, want 5", n)
	}
	step := idleTimeout * 2 / 3
	for i := range 3 {
		clock = clock.Add(step)
		inst, err := p.take(ctx, filter.Data, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		p.put(ctx, inst)
		want := 5
		if i > 0 { // past idleTimeout: the burst's other instances are stale
			want = minIdle
		}
		if n := len(p.idleInstances()); n != want {
			t.Errorf("after %v: %d idle instances, want %d", step*time.Duration(i+1), n, want)
		}
	}
	if got := p.instantiations.Load(); got != 4 { // the burst needed 4 beyond the one from Load
		t.Errorf("%d instantiations, want 4: steady load must reuse the warm instance", got)
	}
}

// A pool left behind by a burst shrinks to minIdle on its own, without a
// further call: the footprint at rest follows the load, not its peak.
func TestPoolTrimsWithoutCalls(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "pool", Wasm: module(t, "good")})
	p.mu.Lock()
	p.idleTimeout = 50 * time.Millisecond
	p.mu.Unlock()
	ctx := context.Background()
	burstInstances(t, p, 5)
	deadline := time.Now().Add(10 * time.Second)
	for len(p.idleInstances()) > minIdle && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(p.idleInstances()); n != minIdle {
		t.Fatalf("%d idle instances 10 s after a burst of 5 with no call, want %d", n, minIdle)
	}
	if _, err := p.Call(ctx, stateAt(t, filter.Data)); err != nil {
		t.Fatalf("a call after trimming: %v", err)
	}
}

// burstInstances takes n instances of p at once, as n concurrent calls
// would, then gives them all back.
func burstInstances(t *testing.T, p *Plugin, n int) {
	t.Helper()
	ctx := context.Background()
	var burst []*instance
	for range n {
		inst, err := p.take(ctx, filter.Data, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		burst = append(burst, inst)
	}
	for _, inst := range burst {
		p.put(ctx, inst)
	}
}
