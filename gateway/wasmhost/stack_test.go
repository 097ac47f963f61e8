package wasmhost

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// stackWAT recurses without end in the data phase, and to a fixed depth
// that then returns normally in the mail phase (deep) and the rcpt phase
// (shallow).
const stackWAT = `(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $forever (param i32) (result i32)
    (call $forever (i32.add (local.get 0) (i32.const 1))))
  (func $down (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (call $down (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "sluice_on_data") (result i32) (call $forever (i32.const 0)))
  (func (export "sluice_on_mail") (result i32) (call $down (i32.const 6000)))
  (func (export "sluice_on_rcpt") (result i32) (call $down (i32.const 100))))`

// memSys is the memory the Go runtime has obtained from the system after a
// collection: it never shrinks, so a delta bounds what a test's calls held
// at their peak (wazero's stacks are Go heap).
func memSys() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Sys
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestStackUnboundedRecursion performs the attack of issue 9 §2: with a
// 1 MiB memory limit, unbounded recursion used to grow wazero's stack to
// hundreds of megabytes per call. It is now a plugin error of kind "stack",
// at once (not at the deadline), and 8 concurrent calls leave the process's
// memory within a few tens of megabytes.
func TestStackUnboundedRecursion(t *testing.T) {
	e, _ := newEngine(t)
	const timeout = 10 * time.Second // the stack limit, not the deadline, must stop it
	p := load(t, e, Spec{Name: "recurse", Wasm: watModule(t, stackWAT), Timeout: timeout, MemoryLimit: 1 << 20, BreakerThreshold: -1})
	// A first call sets up what every call shares (compiled code, pools).
	call := func() error {
		start := time.Now()
		_, err := p.Call(context.Background(), stateAt(t, filter.Data))
		if d := time.Since(start); d > timeout/2 {
			t.Errorf("the recursion was stopped after %v", d)
		}
		var ce *CallError
		if !errors.As(err, &ce) || ce.Kind != KindStack || !strings.Contains(err.Error(), "sluice_on_data: call depth/stack limit exceeded") {
			t.Errorf("error = %v (%#v), want a stack limit error", err, ce)
		}
		return err
	}
	call()

	before := memSys()
	call()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); call() }()
	}
	wg.Wait()
	grown := int64(memSys()) - int64(before)
	t.Logf("memory obtained from the system grew by %d KiB for 9 recursions", grown>>10)
	if grown > 64<<20 {
		t.Errorf("the process grew by %d MiB for 9 runaway recursions, want under 64 MiB", grown>>20)
	}
	if n := len(p.idleInstances()); n != 0 {
		t.Errorf("%d instances pooled after stack faults", n)
	}
	// The plugin still works.
	if v, err := p.Call(context.Background(), stateAt(t, filter.Rcpt)); err != nil || v != filter.Continue {
		t.Errorf("next call: %v, %v", v, err)
	}
}

// TestStackDeepCallNotPooled: a recursion that stays within the limit
// succeeds, but the instance that ran it is closed instead of pooled, so
// idle instances hold no grown stacks; a shallow call's instance is pooled.
func TestStackDeepCallNotPooled(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "deep", Wasm: watModule(t, stackWAT), MemoryLimit: 1 << 20, Timeout: 10 * time.Second})
	if n := len(p.idleInstances()); n != 1 {
		t.Fatalf("%d idle instances after load", n)
	}
	if v, err := p.Call(context.Background(), stateAt(t, filter.Rcpt)); err != nil || v != filter.Continue {
		t.Fatalf("shallow call: %v, %v", v, err)
	}
	if idle := p.idleInstances(); len(idle) != 1 || idle[0].guard.deepest() > poolStackLimit {
		t.Fatalf("the shallow call's instance was not pooled")
	}

	before := heapInuse()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := p.Call(context.Background(), stateAt(t, filter.Mail))
			if err != nil || v != filter.Continue {
				t.Errorf("deep call: %v, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := len(p.idleInstances()); n != 0 {
		t.Errorf("%d instances pooled after deep calls, want every one closed", n)
	}
	held := int64(heapInuse()) - int64(before)
	t.Logf("heap in use after 8 deep calls: %+d KiB, %d idle instances", held>>10, len(p.idleInstances()))
	if held > 16<<20 {
		t.Errorf("idle instances hold %d MiB more after deep calls, want under 16 MiB", held>>20)
	}
}

// TestStackFatFrames: a function with many locals takes a proportionally
// larger share of the budget, so its recursion is stopped far earlier.
func TestStackFatFrames(t *testing.T) {
	e, _ := newEngine(t)
	const depth = 2000 // about 100 KiB of tiny frames, 160 MiB of fat ones
	var b strings.Builder
	b.WriteString(`(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $tiny (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $tiny (i32.sub (local.get 0) (i32.const 1))))))
  (func $fat (param i32) (result i32) (local`)
	for range 5000 {
		b.WriteString(" i64")
	}
	b.WriteString(`)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $fat (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "sluice_on_mail") (result i32) (call $tiny (i32.const 2000)))
  (func (export "sluice_on_rcpt") (result i32) (call $fat (i32.const 2000))))`)
	p := load(t, e, Spec{Name: "fat", Wasm: watModule(t, b.String()), Timeout: 10 * time.Second})
	if v, err := p.Call(context.Background(), stateAt(t, filter.Mail)); err != nil || v != filter.Continue {
		t.Errorf("%d tiny frames: %v, %v", depth, v, err)
	}
	_, err := p.Call(context.Background(), stateAt(t, filter.Rcpt))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != KindStack {
		t.Errorf("%d frames of 5000 locals: error %v, want a stack limit error", depth, err)
	}
}

// TestStackLimitAtInit: a module whose _initialize recurses without end is
// refused at load with the stack limit as the reason.
func TestStackLimitAtInit(t *testing.T) {
	e, _ := newEngine(t)
	_, err := e.Load(context.Background(), Spec{Name: "init", Wasm: watModule(t, `(module
  (memory (export "memory") 1)
  (func $forever (param i32) (result i32) (call $forever (local.get 0)))
  (func (export "_initialize") (drop (call $forever (i32.const 0))))
  (func (export "sluice_abi_version") (result i32) (i32.const 1)))`)})
	if err == nil || !strings.Contains(err.Error(), "_initialize: call depth/stack limit exceeded") {
		t.Fatalf("Load = %v, want a stack limit error", err)
	}
}

// TestStackReservedExport: the export names of the stack budget cannot be
// taken by the module.
func TestStackReservedExport(t *testing.T) {
	e, _ := newEngine(t)
	_, err := e.Load(context.Background(), Spec{Name: "x", Wasm: watModule(t, `(module
  (memory (export "memory") 1)
  (global (export "sluice:stack_low") (mut i32) (i32.const 0))
  (func (export "sluice_abi_version") (result i32) (i32.const 1)))`)})
	if err == nil || !strings.Contains(err.Error(), `not a valid WebAssembly module: the module exports "sluice:stack_low", a name Sluice reserves`) {
		t.Fatalf("Load = %v", err)
	}
}

// BenchmarkStackGuard measures what the instrumentation costs a warm hook
// call: the empty hook of testdata/bench.wat, a hook that makes 1,000
// nested calls, and the Go example filter (bin/examples/go.wasm), each
// through the instrumented and the original module.
func BenchmarkStackGuard(b *testing.B) {
	calls := watModule(b, `(module
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $down (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $down (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "sluice_on_data") (result i32) (call $down (i32.const 1000))))`)
	goExample, err := os.ReadFile("../../bin/examples/go.wasm")
	if err != nil {
		b.Fatalf("%v: run make examples", err)
	}
	for _, m := range []struct {
		name string
		wasm []byte
	}{{"empty", module(b, "bench")}, {"1000calls", calls}, {"go-example", goExample}} {
		for _, original := range []bool{false, true} {
			name := m.name + "/instrumented"
			if original {
				name = m.name + "/original"
			}
			b.Run(name, func(b *testing.B) {
				e, _ := newEngine(b)
				e.uninstrumented = original
				p := load(b, e, Spec{Name: "bench", Wasm: m.wasm, Timeout: 10 * time.Second})
				st := stateAt(b, filter.Data)
				fields := st.Msg.Fields[:len(st.Msg.Fields):len(st.Msg.Fields)]
				ctx := context.Background()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if v, err := p.Call(ctx, st); err != nil || v != filter.Continue {
						b.Fatal(v, err)
					}
					st.Commit()
					st.Msg.Fields = fields
				}
			})
		}
	}
}

// TestLoadHugeDeclaredCounts: a few bytes that declare billions of imports
// or locals are refused at load. The compiler would allocate room for all
// of them first (about 100 GB for the imports) and the process would die.
func TestLoadHugeDeclaredCounts(t *testing.T) {
	e, _ := newEngine(t)
	const header = "\x00asm\x01\x00\x00\x00"
	for name, wasm := range map[string]string{
		"imports": header + "\x02\x05\xff\xff\xff\xff\x0f",
		"locals":  header + "\x01\x04\x01\x60\x00\x00" + "\x03\x02\x01\x00" + "\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b",
		"results": header + "\x01\x08\x01\x60\x00\xff\xff\xff\xff\x0f",
	} {
		before := memSys()
		_, err := e.Load(context.Background(), Spec{Name: name, Wasm: []byte(wasm)})
		if err == nil || !strings.Contains(err.Error(), "not a valid WebAssembly module") {
			t.Errorf("%s: Load = %v", name, err)
		}
		if grown := int64(memSys()) - int64(before); grown > 64<<20 {
			t.Errorf("%s: loading grew the process by %d MiB", name, grown>>20)
		}
	}
}

// TestStackDeepInitPooled: the low-water mark is reset before each hook
// call, so an instance whose _initialize went deep (its stack is dropped
// with the function) is still pooled after shallow hook calls.
func TestStackDeepInitPooled(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "init", Wasm: watModule(t, strings.Replace(stackWAT,
		`(func (export "sluice_on_data")`, `(func (export "_initialize") (drop (call $down (i32.const 6000))))
  (func (export "sluice_on_data")`, 1)), Timeout: 10 * time.Second})
	for range 3 {
		if v, err := p.Call(context.Background(), stateAt(t, filter.Rcpt)); err != nil || v != filter.Continue {
			t.Fatalf("shallow call: %v, %v", v, err)
		}
	}
	if n, made := len(p.idleInstances()), p.instantiations.Load(); n != 1 || made != 0 {
		t.Errorf("%d idle instances, %d made for calls; want the loaded instance reused", n, made)
	}
}

// TestStackHugeFrameRefused: a function whose single frame would cost more
// than the whole stack limit is refused at load.
func TestStackHugeFrameRefused(t *testing.T) {
	e, _ := newEngine(t)
	leb := func(v int) []byte {
		var b []byte
		for ; v >= 0x80; v >>= 7 {
			b = append(b, byte(v)|0x80)
		}
		return append(b, byte(v))
	}
	body := append([]byte{0}, make([]byte, DefaultStackLimit/8+1)...) // no locals, then nops (0x00 is unreachable)
	for i := 1; i < len(body); i++ {
		body[i] = 0x01
	}
	body = append(body, 0x0b)
	code := append(append([]byte{1}, leb(len(body))...), body...)
	wasm := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a")
	wasm = append(append(wasm, leb(len(code))...), code...)
	_, err := e.Load(context.Background(), Spec{Name: "huge", Wasm: wasm})
	if err == nil || !strings.Contains(err.Error(), "needs a stack frame of") || !strings.Contains(err.Error(), "above the stack limit of 4 MiB") {
		t.Fatalf("Load = %v", err)
	}
}
