package wasmhost

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// countingRelease makes h count its runs instead of freeing the heap, with
// short delays.
func countingRelease(h *heapRelease, delay, interval time.Duration) *atomic.Int64 {
	n := &atomic.Int64{}
	h.mu.Lock()
	h.delay, h.interval, h.release = delay, interval, func() { n.Add(1) }
	h.mu.Unlock()
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("10 s without %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Requests close together are served by one run, and runs are at least
// interval apart; after stop nothing runs.
func TestHeapReleaseCoalescesAndSpaces(t *testing.T) {
	h := newHeapRelease(slog.New(slog.DiscardHandler))
	n := countingRelease(h, 20*time.Millisecond, 300*time.Millisecond)
	for range 3 {
		h.request()
	}
	waitFor(t, "a run", func() bool { return h.runs.Load() == 1 })
	first := time.Now()
	time.Sleep(50 * time.Millisecond)
	if got := n.Load(); got != 1 {
		t.Fatalf("three requests within the delay: %d runs, want 1", got)
	}
	h.request()
	waitFor(t, "a second run", func() bool { return h.runs.Load() == 2 })
	if gap := time.Since(first); gap < 250*time.Millisecond {
		t.Errorf("second run %v after the first, want at least the interval of 300ms", gap)
	}
	h.request()
	h.stop()
	time.Sleep(400 * time.Millisecond)
	if got := n.Load(); got != 2 {
		t.Errorf("a request pending at stop ran: %d runs, want 2", got)
	}
}

// When idle instances are trimmed, they are closed, their linear memory's
// pages are given back at once, and the engine frees the heap once for
// every plugin that shrank at the same time. A pool that does not shrink
// asks for nothing.
func TestPoolTrimReleasesMemory(t *testing.T) {
	e, _ := newEngine(t)
	runs := countingRelease(e.heap, 100*time.Millisecond, time.Minute)
	// Each instance touches the four pages of its memory at start.
	src := `(module (memory (export "memory") 4)
		(data (i32.const 0) "a") (data (i32.const 65536) "b")
		(data (i32.const 131072) "c") (data (i32.const 196608) "d")
		(func (export "sluice_abi_version") (result i32) (i32.const 1))
		(func (export "sluice_on_data") (result i32) (i32.const 0)))`
	a := load(t, e, Spec{Name: "a", Wasm: watModule(t, src)})
	b := load(t, e, Spec{Name: "b", Wasm: watModule(t, src)})
	burstInstances(t, a, minIdle) // no more than minIdle: nothing to trim
	time.Sleep(200 * time.Millisecond)
	if got := runs.Load(); got != 0 {
		t.Fatalf("%d heap releases with no instance closed, want 0", got)
	}

	var burst []*instance
	for _, p := range []*Plugin{a, b} {
		p.mu.Lock()
		p.idleTimeout = 50 * time.Millisecond
		p.mu.Unlock()
		burstInstances(t, p, 5)
		burst = append(burst, p.idleInstances()...)
	}
	mems := map[*instance][]byte{} // each instance's linear memory
	for _, inst := range burst {
		buf, ok := inst.mod.Memory().Read(0, inst.mod.Memory().Size())
		if !ok {
			t.Fatal("memory not readable")
		}
		mems[inst] = buf
		if newLinearMemory != nil && residentPages(t, buf) == 0 {
			t.Fatal("an idle instance's memory has no resident page before the trim")
		}
	}
	for _, p := range []*Plugin{a, b} {
		waitFor(t, "the pool trimmed to minIdle", func() bool { return len(p.idleInstances()) == minIdle })
	}
	waitFor(t, "a heap release", func() bool { return runs.Load() >= 1 })
	time.Sleep(300 * time.Millisecond)
	if got := runs.Load(); got != 1 {
		t.Errorf("two pools shrinking together: %d heap releases, want 1", got)
	}
	kept := map[*instance]bool{}
	for _, p := range []*Plugin{a, b} {
		for _, inst := range p.idleInstances() {
			kept[inst] = true
		}
	}
	closed := 0
	for _, inst := range burst {
		if kept[inst] {
			continue
		}
		closed++
		if !inst.mod.IsClosed() {
			t.Error("a trimmed instance is not closed")
		}
		if newLinearMemory != nil {
			if r := residentPages(t, mems[inst]); r != 0 {
				t.Errorf("a trimmed instance still has %d resident pages of linear memory", r)
			}
		}
	}
	if closed != 2*(5-minIdle) {
		t.Errorf("%d instances closed, want %d", closed, 2*(5-minIdle))
	}
	if _, err := a.Call(context.Background(), stateAt(t, filter.Data)); err != nil {
		t.Fatalf("a call after the trim: %v", err)
	}
}
