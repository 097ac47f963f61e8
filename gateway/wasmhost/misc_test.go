package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// TestStdoutToLog: WASI output reaches the log line by line, tagged with
// the plugin's name; control characters are escaped; over-long lines are
// cut.
func TestStdoutToLog(t *testing.T) {
	e, logs := newEngine(t)
	long := strings.Repeat("z", maxOutputLine+100)
	p := load(t, e, Spec{Name: "printer", Wasm: watModule(t, `(module
		(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
		(memory (export "memory") 1)
		(data (i32.const 0) "\10\00\00\00\09\00\00\00\1a\00\00\00\0c\00\00\00")
		(data (i32.const 16) "hello\nwor")
		(data (i32.const 26) "ld\1b[31m\nrest")
		(data (i32.const 64) "\50\00\00\00`+fmt.Sprintf(`\%02x\%02x\00\00`, (len(long)+1)&0xff, (len(long)+1)>>8)+`")
		(data (i32.const 80) "`+long+`\n")
		(func (export "sluice_abi_version") (result i32) (i32.const 1))
		(func (export "sluice_on_connect") (result i32)
			(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 8000)))
			(drop (call $fd_write (i32.const 2) (i32.const 64) (i32.const 1) (i32.const 8000)))
			(i32.const 0)))`)})
	if _, err := p.Call(context.Background(), stateAt(t, filter.Connect)); err != nil {
		t.Fatal(err)
	}
	p.Close(context.Background()) // flushes "rest"
	out := logs.String()
	for _, want := range []string{
		`msg=hello plugin=printer stream=stdout`,
		`msg=world\x1b[31m plugin=printer stream=stdout`,
		`msg=rest plugin=printer stream=stdout`,
		`plugin=printer stream=stderr truncated=true`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, long[:maxOutputLine+1]) {
		t.Errorf("an over-long line was logged whole")
	}
}

// TestConcurrentCalls: 8 goroutines share one plugin; each call gets its
// own instance and its own state (run with -race).
func TestConcurrentCalls(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "good", Wasm: module(t, "good"), MaxIdle: 4})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				st := stateAt(t, filter.Data)
				st.Session.ID = fmt.Sprintf("S%d-%d", g, i)
				v, err := p.Call(context.Background(), st)
				if err != nil || v != filter.Continue {
					errs <- fmt.Errorf("call %d/%d: %v %v", g, i, v, err)
					return
				}
				if sid, _ := st.Tag("sid"); sid != st.Session.ID {
					errs <- fmt.Errorf("call %d/%d saw session %q", g, i, sid)
					return
				}
				if len(st.Msg.Fields) != 3 {
					errs <- fmt.Errorf("call %d/%d: %d fields", g, i, len(st.Msg.Fields))
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(p.idleInstances()); n < 1 || n > 4 {
		t.Errorf("%d idle instances, want 1 to MaxIdle=4", n)
	}
}

// TestClosedPlugin: calls after Close fail cleanly.
func TestClosedPlugin(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "good", Wasm: module(t, "good")})
	p.Close(context.Background())
	if _, err := p.Call(context.Background(), stateAt(t, filter.Data)); err == nil || !strings.Contains(err.Error(), "plugin is closed") {
		t.Errorf("error = %v", err)
	}
}

// TestCallCtxStaleWakeups: a timer or parent callback from an earlier call
// that runs late must not cut the next call short.
func TestCallCtxStaleWakeups(t *testing.T) {
	c := newCallCtx(&callState{})
	defer c.timer.Stop()
	parent, cancel := context.WithCancel(context.Background())
	c.begin(parent, time.Now().Add(time.Hour))
	c.end()
	cancel()
	c.begin(context.Background(), time.Now().Add(time.Hour))
	c.expire()     // stale deadline: the current one is an hour away
	c.parentDone() // stale parent: the current one is alive
	select {
	case <-c.Done():
		t.Fatalf("stale wake-up ended the call: %v", c.Err())
	default:
	}
	c.end()

	// A real deadline closes Done with DeadlineExceeded.
	c.begin(context.Background(), time.Now().Add(time.Millisecond))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("deadline did not fire")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("Err = %v", c.Err())
	}
	c.end()

	// The next call gets a fresh Done.
	parent, cancel = context.WithCancel(context.Background())
	c.begin(parent, time.Now().Add(time.Hour))
	if c.Err() != nil {
		t.Fatalf("Err after re-arming = %v", c.Err())
	}
	if c.Value(callKey{}) == nil {
		t.Error("the call state is not served")
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("parent cancellation did not propagate")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("Err = %v", c.Err())
	}
	c.end()
}

// TestCallCtxArmsOnlyWhenWaitedOn: a call whose guest and host functions
// only check Err arms neither the deadline timer nor a watch on the
// caller's context, yet still ends at its deadline and with its caller.
func TestCallCtxArmsOnlyWhenWaitedOn(t *testing.T) {
	c := newCallCtx(&callState{})
	defer c.timer.Stop()
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.begin(parent, time.Now().Add(time.Hour))
	if c.Err() != nil || c.Value(callKey{}) == nil {
		t.Fatalf("fresh call: Err %v", c.Err())
	}
	if c.armed {
		t.Fatal("Err and Value armed the timer")
	}
	c.end()

	// Past its deadline, Err says so without any timer, and Done is closed.
	c.begin(parent, time.Now().Add(-time.Millisecond))
	if !errors.Is(c.Err(), context.DeadlineExceeded) || c.armed {
		t.Fatalf("past deadline: Err %v, armed %v", c.Err(), c.armed)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after Err reported the deadline")
	}
	c.end()

	// The caller cancelling is seen by Err alone.
	p2, cancel2 := context.WithCancel(context.Background())
	c.begin(p2, time.Now().Add(time.Hour))
	cancel2()
	if !errors.Is(c.Err(), context.Canceled) || c.armed {
		t.Fatalf("cancelled caller: Err %v, armed %v", c.Err(), c.armed)
	}
	c.end()

	// Asking for Done arms both; end disarms them.
	c.begin(parent, time.Now().Add(time.Hour))
	c.Done()
	if !c.armed || c.stopParent == nil {
		t.Fatal("Done did not arm the timer and the parent watch")
	}
	c.end()
	if c.armed || c.stopParent != nil {
		t.Fatal("end left the call armed")
	}
}

// TestCallCtxChildrenNeedNoGoroutine: contexts derived from a call's
// context (marginCtx's WithDeadline) register through AfterFunc
// rather than each starting a goroutine that waits on Done, and end when
// the call ends.
func TestCallCtxChildrenNeedNoGoroutine(t *testing.T) {
	c := newCallCtx(&callState{})
	defer c.timer.Stop()
	c.begin(context.Background(), time.Now().Add(time.Hour))
	before := runtime.NumGoroutine()
	var stops []context.CancelFunc
	for range 100 {
		child, stop := context.WithDeadline(c, time.Now().Add(30*time.Minute))
		stops = append(stops, stop)
		_ = child
	}
	if n := runtime.NumGoroutine(); n >= before+100 {
		t.Errorf("100 derived contexts started %d goroutines", n-before)
	}
	if len(c.after) != 100 {
		t.Errorf("%d AfterFunc registrations, want 100", len(c.after))
	}
	for _, stop := range stops[50:] {
		stop()
	}
	if len(c.after) != 50 {
		t.Errorf("%d registrations left after 50 cancels, want 50", len(c.after))
	}
	c.end()

	// A child of a call that reaches its deadline ends with it.
	c.begin(context.Background(), time.Now().Add(20*time.Millisecond))
	child, stop := context.WithCancel(c)
	defer stop()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context outlived the call's deadline")
	}
	if !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Errorf("child Err = %v", child.Err())
	}
	c.end()

	// AfterFunc on a call that already ended runs at once, and its stop
	// reports it could not stop it.
	ran := make(chan struct{})
	stopAF := c.AfterFunc(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc after the end did not run")
	}
	if stopAF() {
		t.Error("stop reported it stopped a callback that ran")
	}
}

// TestBeforeDeadlineArmsOnlyWhenWaitedOn: auth_check's and scan's context
// (beforeDeadline) answers Err from the clock and the call, arming neither
// its own timer nor the call's, and once waited on behaves as
// context.WithDeadline: it ends at its margin, with the call, or when
// stopped, and its children need no goroutine.
func TestBeforeDeadlineArmsOnlyWhenWaitedOn(t *testing.T) {
	c := newCallCtx(&callState{})
	defer c.timer.Stop()

	// Err alone: nothing armed, the margin's deadline seen on the clock.
	c.begin(context.Background(), time.Now().Add(time.Hour))
	ctx, stop := beforeDeadline(c, 50*time.Millisecond, 5*time.Millisecond)
	if dl, _ := ctx.Deadline(); time.Until(dl) > time.Hour-50*time.Millisecond+time.Second {
		t.Errorf("deadline %v from now: no margin", time.Until(dl))
	}
	if ctx.Err() != nil || c.armed || ctx.(*marginCtx).real != nil {
		t.Fatalf("Err %v, call armed %v: Err armed something", ctx.Err(), c.armed)
	}
	stop()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err after stop = %v", ctx.Err())
	}
	c.end()

	c.begin(context.Background(), time.Now().Add(30*time.Millisecond))
	ctx, stop = beforeDeadline(c, 50*time.Millisecond, 5*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || c.armed {
		t.Errorf("past the margin: Err %v, call armed %v", ctx.Err(), c.armed)
	}
	stop()
	c.end()

	// Waited on: Done closes at the margin, well before the call's end.
	c.begin(context.Background(), time.Now().Add(time.Hour))
	margin := time.Hour - 100*time.Millisecond
	ctx, stop = beforeDeadline(c, margin, margin)
	before := runtime.NumGoroutine()
	var children []context.CancelFunc
	for range 50 {
		_, cancel := context.WithCancel(ctx)
		children = append(children, cancel)
	}
	if n := runtime.NumGoroutine(); n >= before+50 {
		t.Errorf("50 children started %d goroutines", n-before)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the margin")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || c.Err() != nil {
		t.Errorf("at the margin: Err %v, the call's %v", ctx.Err(), c.Err())
	}
	for _, cancel := range children {
		cancel()
	}
	stop()
	c.end()

	// The call ending (its caller cancelling) ends a waited-on one.
	parent, cancel := context.WithCancel(context.Background())
	c.begin(parent, time.Now().Add(time.Hour))
	ctx, stop = beforeDeadline(c, 50*time.Millisecond, 5*time.Millisecond)
	done := ctx.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the caller's cancellation did not reach it")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v", ctx.Err())
	}
	stop()
	c.end()

	// Stopped before anything waited: Done is closed at once.
	c.begin(context.Background(), time.Now().Add(time.Hour))
	ctx, stop = beforeDeadline(c, 50*time.Millisecond, 5*time.Millisecond)
	stop()
	select {
	case <-ctx.Done():
	default:
		t.Error("Done open after stop")
	}
	c.end()
}
