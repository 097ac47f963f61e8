package wasmhost

import (
	"context"
	"errors"
	"fmt"
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
