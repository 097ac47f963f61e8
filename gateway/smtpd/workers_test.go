package smtpd

import (
	"runtime"
	"testing"
	"time"
)

// waitIdleWorkers waits until n session goroutines wait for a connection.
func waitIdleWorkers(t *testing.T, ts *testServer, n int32) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ts.idleWorkers.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle session goroutines, want %d", ts.idleWorkers.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A session's goroutine waits for the next connection and serves it; at
// most maxIdleWorkers wait, the rest exit.
func TestSessionGoroutinesAreReused(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.greeted(t)
	c.cmd("QUIT", 221, "")
	c.expectClosed()
	waitIdleWorkers(t, ts, 1)
	before := runtime.NumGoroutine()

	// The next connection is served by the waiting goroutine: none starts.
	c = ts.greeted(t)
	waitIdleWorkers(t, ts, 0)
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("a new session started %d goroutines, want none", n-before)
	}
	c.cmd("QUIT", 221, "")
	c.expectClosed()
	waitIdleWorkers(t, ts, 1)

	// A burst beyond the bound: after it, maxIdleWorkers goroutines wait
	// and the others have exited.
	var cs []*client
	for range maxIdleWorkers + 10 {
		cs = append(cs, ts.greeted(t))
	}
	waitIdleWorkers(t, ts, 0)
	peak := runtime.NumGoroutine()
	for _, c := range cs {
		c.cmd("QUIT", 221, "")
		c.expectClosed()
	}
	waitIdleWorkers(t, ts, maxIdleWorkers)
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > peak-9; {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d after the burst, peak %d: the goroutines beyond the bound did not exit", runtime.NumGoroutine(), peak)
		}
		time.Sleep(time.Millisecond)
	}
	// startServer's cleanup checks that Shutdown ends the waiting ones.
}
