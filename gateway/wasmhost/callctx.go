package wasmhost

import (
	"context"
	"sync"
	"time"
)

// callCtx is the context of one hook call: the caller's values and
// cancellation, the call state for the host functions, and the deadline.
// Each instance owns one and reuses it, so a warm call allocates no context
// or timer (context.WithTimeout costs several allocations and a timer per
// call).
//
// Most calls never wait on Done: the guest's countdown (interrupt.go) and
// every host function's return check Err, which reads the clock and the
// caller's context itself. So the deadline timer and the registration with
// the caller's context are armed only when somebody asks for Done (a WASI
// sleep, a DNS lookup, a scan: host code that blocks), and a call that
// nobody waits on touches no timer. Arming a timer on every call woke an
// idle scheduler thread to re-sort its timers each time, a futex round trip
// per hook call on a lightly loaded gateway (RATIONALE.md, "A hook call
// arms no timer").
//
// callCtx also implements the context package's AfterFunc hook, so that
// contexts derived from it (a DNS lookup's, marginCtx's once waited on)
// register a callback instead of starting a goroutine that waits on Done.
type callCtx struct {
	cs       *callState
	timer    *time.Timer // runs expire; armed by Done, stopped by end
	onParent func()      // parentDone as a func value, made once

	mu         sync.Mutex
	parent     context.Context
	deadline   time.Time
	done       chan struct{}
	err        error
	armed      bool        // timer and parent registration are live
	stopParent func() bool // undoes the registration with parent
	after      map[*afterFunc]struct{}
}

// afterFunc is one callback registered through AfterFunc.
type afterFunc struct{ f func() }

func newCallCtx(cs *callState) *callCtx {
	c := &callCtx{cs: cs, done: make(chan struct{})}
	c.timer = time.AfterFunc(time.Hour, c.expire)
	c.timer.Stop()
	c.onParent = c.parentDone
	return c
}

// begin sets the context up for a call under parent that must end by
// deadline. It arms nothing: see Done.
func (c *callCtx) begin(parent context.Context, deadline time.Time) {
	c.mu.Lock()
	c.parent = parent
	c.deadline = deadline
	if c.err != nil {
		// The previous call ended at or after its deadline.
		c.done, c.err = make(chan struct{}), nil
	}
	clear(c.after)
	c.mu.Unlock()
}

// end disarms the context after the guest returned.
func (c *callCtx) end() {
	c.mu.Lock()
	armed, stop := c.armed, c.stopParent
	c.armed, c.stopParent = false, nil
	c.parent = nil
	clear(c.after)
	c.mu.Unlock()
	if armed {
		c.timer.Stop()
		if stop != nil {
			stop()
		}
	}
}

// finishLocked ends the call with err: Done closes and the AfterFunc
// callbacks start, each in its own goroutine as context.AfterFunc does.
// c.mu is held.
func (c *callCtx) finishLocked(err error) {
	c.err = err
	close(c.done)
	for a := range c.after {
		go a.f()
	}
	clear(c.after)
}

// checkLocked ends the call if its deadline passed or its caller's context
// ended, and reports the error. c.mu is held.
func (c *callCtx) checkLocked() error {
	if c.err != nil || c.parent == nil {
		return c.err
	}
	if err := c.parent.Err(); err != nil {
		c.finishLocked(err)
	} else if !time.Now().Before(c.deadline) {
		c.finishLocked(context.DeadlineExceeded)
	}
	return c.err
}

// expire runs on the timer. A late run, after end and a new begin, finds a
// deadline in the future and does nothing.
func (c *callCtx) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkLocked()
}

// parentDone runs when the caller's context ends. A late run finds the
// current caller's context still alive and does nothing.
func (c *callCtx) parentDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkLocked()
}

func (c *callCtx) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

// Done arms the deadline timer and the watch on the caller's context the
// first time a call asks for it, so that the channel closes on time for
// whoever waits on it.
func (c *callCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checkLocked() == nil && !c.armed && c.parent != nil {
		c.armed = true
		c.timer.Reset(time.Until(c.deadline))
		if c.parent.Done() != nil {
			c.stopParent = context.AfterFunc(c.parent, c.onParent)
		}
	}
	return c.done
}

// Err reports whether the call ended, looking at the clock and the
// caller's context rather than waiting for a timer.
func (c *callCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkLocked()
}

// AfterFunc arranges for f to run in its own goroutine once the call ends
// (context.AfterFunc's contract); the context package uses it for contexts
// derived from this one. The returned stop reports whether it kept f from
// running.
func (c *callCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.Done() // the callback needs the timer and the parent watch armed
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	if c.after == nil {
		c.after = make(map[*afterFunc]struct{})
	}
	c.after[a] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.after[a]
		delete(c.after, a)
		return ok
	}
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
