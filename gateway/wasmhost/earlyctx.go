package wasmhost

import (
	"context"
	"sync"
	"time"
)

// earlyCtx is a context that ends at an earlier deadline than its parent
// (beforeDeadline), and, like callCtx, arms nothing until somebody asks for
// Done. auth_check and scan derive one on every call, yet most calls are
// answered from memory (the DNS cache, a memoized result) and never wait:
// context.WithDeadline would arm the call's timer and its own on each of
// them (RATIONALE.md, "A hook call arms no timer").
type earlyCtx struct {
	context.Context // the parent: values, and its own end
	deadline        time.Time

	mu       sync.Mutex
	real     context.Context // context.WithDeadline(parent, deadline), made by Done
	stop     context.CancelFunc
	canceled bool
}

func newEarlyCtx(parent context.Context, deadline time.Time) (*earlyCtx, context.CancelFunc) {
	e := &earlyCtx{Context: parent, deadline: deadline}
	return e, e.cancel
}

func (e *earlyCtx) Deadline() (time.Time, bool) { return e.deadline, true }

// Done makes the real derived context the first time it is asked for.
func (e *earlyCtx) Done() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.real == nil {
		e.real, e.stop = context.WithDeadline(e.Context, e.deadline)
		if e.canceled {
			e.stop()
		}
	}
	return e.real.Done()
}

// Err looks at the clock and the parent, unless Done already made the real
// context, which then answers.
func (e *earlyCtx) Err() error {
	e.mu.Lock()
	real, canceled := e.real, e.canceled
	e.mu.Unlock()
	switch {
	case real != nil:
		return real.Err()
	case canceled:
		return context.Canceled
	}
	if err := e.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(e.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (e *earlyCtx) cancel() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.canceled = true
	if e.stop != nil {
		e.stop()
	}
}

// Value answers from the real context once it exists (so that
// context.Cause sees its deadline), from the parent before.
func (e *earlyCtx) Value(key any) any {
	e.mu.Lock()
	real := e.real
	e.mu.Unlock()
	if real != nil {
		return real.Value(key)
	}
	return e.Context.Value(key)
}
