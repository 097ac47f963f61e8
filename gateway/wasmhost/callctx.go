package wasmhost

import (
	"context"
	"sync"
	"time"
)

// callCtx is the context of one hook call: the caller's values and
// cancellation, the call state for the host functions, and the deadline.
// Each instance owns one and reuses it, with one timer, so a warm call
// allocates no context or timer (context.WithTimeout costs several
// allocations and a timer per call).
//
// The guest's countdown (interrupt.go), its sleeps and the host functions
// check Err and stop the guest once it is set.
type callCtx struct {
	cs       *callState
	timer    *time.Timer // runs expire; stopped between calls
	onParent func()      // parentDone as a func value, made once

	mu         sync.Mutex
	parent     context.Context
	deadline   time.Time
	done       chan struct{}
	err        error
	stopParent func() bool
}

func newCallCtx(cs *callState) *callCtx {
	c := &callCtx{cs: cs, done: make(chan struct{})}
	c.timer = time.AfterFunc(time.Hour, c.expire)
	c.timer.Stop()
	c.onParent = c.parentDone
	return c
}

// begin arms the context for a call under parent that must end by deadline.
func (c *callCtx) begin(parent context.Context, deadline time.Time) {
	c.mu.Lock()
	c.parent = parent
	c.deadline = deadline
	if c.err != nil {
		// The previous call ended just as its deadline passed.
		c.done, c.err = make(chan struct{}), nil
	}
	c.mu.Unlock()
	c.timer.Reset(time.Until(deadline))
	if parent.Done() != nil {
		c.stopParent = context.AfterFunc(parent, c.onParent)
	}
}

// end disarms the context after the guest returned.
func (c *callCtx) end() {
	c.timer.Stop()
	if c.stopParent != nil {
		c.stopParent()
		c.stopParent = nil
	}
	c.mu.Lock()
	c.parent = nil
	c.mu.Unlock()
}

// expire runs on the timer. A late run, after end and a new begin, finds a
// deadline in the future and does nothing.
func (c *callCtx) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.parent != nil && !time.Now().Before(c.deadline) {
		c.err = context.DeadlineExceeded
		close(c.done)
	}
}

// parentDone runs when the caller's context ends. A late run finds the
// current caller's context still alive and does nothing.
func (c *callCtx) parentDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.parent != nil && c.parent.Err() != nil {
		c.err = c.parent.Err()
		close(c.done)
	}
}

func (c *callCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

func (c *callCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value serves the call state to host functions; other keys come from the
// caller's context. Host functions run on the calling goroutine, between
// begin and end.
func (c *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return c.cs
	}
	c.mu.Lock()
	p := c.parent
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Value(key)
}
