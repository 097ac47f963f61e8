package wasmhost

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// heapRelease gives the Go heap back to the system once pools shrink
// (RATIONALE.md, "A shrinking pool gives the heap back"). The instances a
// peak created, and the messages it carried, leave garbage that the
// collector frees only at its next cycle and that the runtime's scavenger
// returns to the system over minutes, so RSS stays near the peak long after
// it. When a pool closes idle instances (the load has been lower for
// idleTimeout) or a plugin is closed, the engine runs debug.FreeOSMemory:
// one collection and a release of every free page. Requests of several
// plugins within delay are served by one run, and runs are at least
// interval apart, so steady load, which closes no instances, never pays for
// it and a changing one pays at most once per interval.
type heapRelease struct {
	delay    time.Duration // from the first request to the run
	interval time.Duration // between two runs at least
	release  func()        // debug.FreeOSMemory; tests count calls instead
	log      *slog.Logger

	mu     sync.Mutex
	timer  *time.Timer
	last   time.Time // when the last run ended
	closed bool

	runs atomic.Int64 // completed runs (tests)
}

func newHeapRelease(log *slog.Logger) *heapRelease {
	return &heapRelease{delay: time.Second, interval: idleTimeout, release: debug.FreeOSMemory, log: log}
}

// request asks for a run: after delay, or once interval has passed since
// the last one, whichever is later. A run already pending serves it.
func (h *heapRelease) request() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timer != nil || h.closed {
		return
	}
	wait := h.delay
	if !h.last.IsZero() {
		wait = max(wait, time.Until(h.last.Add(h.interval)))
	}
	h.timer = time.AfterFunc(wait, h.run)
}

func (h *heapRelease) run() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	var before, after runtime.MemStats
	debugLog := h.log.Enabled(context.Background(), slog.LevelDebug)
	if debugLog {
		runtime.ReadMemStats(&before)
	}
	start := time.Now()
	h.release()
	took := time.Since(start)
	if debugLog {
		runtime.ReadMemStats(&after)
		h.log.Debug("returned free heap to the system after a pool shrank", "took", took,
			"released_mib", (int64(after.HeapReleased)-int64(before.HeapReleased))>>20,
			"heap_live_mib", after.HeapAlloc>>20)
	}
	h.mu.Lock()
	h.timer, h.last = nil, time.Now()
	h.mu.Unlock()
	h.runs.Add(1)
}

// stop cancels a pending run; later requests are ignored.
func (h *heapRelease) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
}
