package smtpd

import (
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestShutdownIdleSessions: sessions between transactions are told 421
// 4.3.2 at once, and Shutdown returns without waiting for its deadline.
func TestShutdownIdleSessions(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c1 := ts.greeted(t)
	c2 := ts.ehloed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	for _, c := range []*client{c1, c2} {
		c.expect(421, "4.3.2")
		c.expectClosed()
	}
	ts.backend.waitClosed(t, 2)
	// no new connections
	if nc, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		nc.Close()
		t.Fatal("listener still open")
	}
}

// TestShutdownLetsTransactionFinish (docs/TESTPLAN.md row 53): a transaction in
// flight completes; then the session is closed with 421 4.3.2.
func TestShutdownLetsTransactionFinish(t *testing.T) {
	b := newFakeBackend()
	b.data = accept250
	ts := startServer(t, Config{}, b)
	c := ts.inRcpt(t)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	waitStopping(t, ts)
	c.cmd("DATA", 354, "")
	c.Write("hello\r\n.\r\n")
	c.expect(250, "2.0.0")
	c.expect(421, "4.3.2")
	c.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(b.Messages()) != 1 {
		t.Fatal("message lost")
	}
}

// TestShutdownForced: when the context ends, sessions still in a transaction
// get 421 4.3.2 and Shutdown reports the deadline.
func TestShutdownForced(t *testing.T) {
	ts := startServer(t, Config{}, newFakeBackend())
	c := ts.inRcpt(t)
	d := ts.inRcpt(t)
	d.cmd("DATA", 354, "")
	d.Write("partial line")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	c.expect(421, "4.3.2")
	c.expectClosed()
	d.expect(421, "4.3.2")
	d.expectClosed()
	ts.backend.waitClosed(t, 2)
	if len(ts.backend.Messages()) != 0 {
		t.Fatal("Data called")
	}
}

// TestGoroutinesAfterShutdown: everything the server started ends.
func TestGoroutinesAfterShutdown(t *testing.T) {
	baseline := runtime.NumGoroutine()
	func() {
		b := newFakeBackend()
		b.data = accept250
		ts := startServer(t, Config{}, b)
		for range 5 {
			c := ts.inRcpt(t)
			c.cmd("DATA", 354, "")
			c.Write("x\r\n.\r\n")
			c.expect(250, "")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		ts.backend.waitClosed(t, 5)
	}()
	waitGoroutines(t, baseline)
}

// waitStopping waits until Shutdown has begun.
func waitStopping(t *testing.T, ts *testServer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts.mu.Lock()
		s := ts.shutting
		ts.mu.Unlock()
		if s {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Shutdown did not start")
		}
		time.Sleep(time.Millisecond)
	}
}
