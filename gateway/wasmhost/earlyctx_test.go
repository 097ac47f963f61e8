package wasmhost

import (
	"context"
	"errors"
	"testing"
	"time"
)

// beforeDeadline's context ends at its own, earlier deadline, and arms
// neither its own timer nor the call's until something waits on Done.
func TestEarlyCtxArmsOnlyWhenWaitedOn(t *testing.T) {
	c := newCallCtx(&callState{})
	defer c.timer.Stop()
	c.begin(context.Background(), time.Now().Add(time.Hour))
	ctx, cancel := beforeDeadline(c, 10*time.Second, time.Second)
	e, ok := ctx.(*earlyCtx)
	if !ok {
		t.Fatalf("beforeDeadline gave %T", ctx)
	}
	if dl, _ := ctx.Deadline(); time.Until(dl) > time.Hour-10*time.Second+time.Second {
		t.Fatalf("deadline %v is not the margin before the call's", time.Until(dl))
	}
	if ctx.Err() != nil || ctx.Value(callKey{}) == nil {
		t.Fatalf("fresh: Err %v, call state %v", ctx.Err(), ctx.Value(callKey{}))
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("after cancel: Err %v", ctx.Err())
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done open after cancel")
	}
	if e.stop == nil {
		t.Fatal("Done made no real context")
	}
	c.end()

	// Unwatched, nothing is armed; the clock alone ends it.
	c.begin(context.Background(), time.Now().Add(time.Hour))
	ctx, cancel = newEarlyCtx(c, time.Now().Add(20*time.Millisecond))
	defer cancel()
	if ctx.Err() != nil || c.armed || ctx.(*earlyCtx).real != nil {
		t.Fatal("Err armed a timer")
	}
	time.Sleep(30 * time.Millisecond)
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || c.armed {
		t.Fatalf("past its deadline: Err %v, call armed %v", ctx.Err(), c.armed)
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done open after Err reported the deadline")
	}
	c.end()

	// Watched, Done closes at the early deadline, before the call's.
	c.begin(context.Background(), time.Now().Add(time.Hour))
	ctx, cancel = newEarlyCtx(c, time.Now().Add(20*time.Millisecond))
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the early deadline did not close Done")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Fatalf("Err %v, Cause %v", ctx.Err(), context.Cause(ctx))
	}
	if c.Err() != nil {
		t.Fatal("the call ended with its early child")
	}
	c.end()

	// The caller's context ending ends it, watched or not.
	parent, stop := context.WithCancel(context.Background())
	c.begin(parent, time.Now().Add(time.Hour))
	unwatched, cancel1 := newEarlyCtx(c, time.Now().Add(time.Minute))
	defer cancel1()
	watched, cancel2 := newEarlyCtx(c, time.Now().Add(time.Minute))
	defer cancel2()
	done := watched.Done()
	stop()
	if !errors.Is(unwatched.Err(), context.Canceled) {
		t.Fatalf("unwatched child of a cancelled caller: Err %v", unwatched.Err())
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the caller's end did not reach the watched child")
	}
	c.end()
}
