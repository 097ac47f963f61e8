package wasmhost

import (
	"context"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// TestLinearMemoryGrowsInPlace: a linear memory grows without moving or
// copying, new pages read as zeros, growth past the maximum is refused, and
// a freed memory grows no more.
func TestLinearMemoryGrowsInPlace(t *testing.T) {
	if newLinearMemory == nil {
		t.Skip("no mapped linear memory on " + runtime.GOOS)
	}
	m := newLinearMemory(64 * pageSize)
	defer m.unmap()
	b := m.Reallocate(pageSize)
	if len(b) != pageSize {
		t.Fatalf("len %d; want one page", len(b))
	}
	b[pageSize-1] = 42
	b2 := m.Reallocate(10 * pageSize)
	if unsafe.SliceData(b2) != unsafe.SliceData(b) {
		t.Fatal("the memory moved when it grew")
	}
	if b2[pageSize-1] != 42 || b2[10*pageSize-1] != 0 {
		t.Fatalf("after growth: kept byte %d, new byte %d; want 42 and 0", b2[pageSize-1], b2[10*pageSize-1])
	}
	b2[10*pageSize-1] = 1
	if m.Reallocate(65*pageSize) != nil {
		t.Fatal("growth past the maximum was allowed")
	}
	if len(m.Reallocate(64*pageSize)) != 64*pageSize {
		t.Fatal("growth to the maximum was refused")
	}
	m.Free()
	if m.Reallocate(64*pageSize+1) != nil || m.Reallocate(pageSize) != nil {
		t.Fatal("a freed memory grew")
	}
}

// TestInstanceMemoryOutsideHeap: the linear memory of instances does not
// weigh on the Go heap, which the collector would otherwise let grow to
// twice its size; the guest still grows it and uses the new pages.
func TestInstanceMemoryOutsideHeap(t *testing.T) {
	if newLinearMemory == nil {
		t.Skip("no mapped linear memory on " + runtime.GOOS)
	}
	e, _ := newEngine(t)
	// 16 MiB at the start; the mail hook grows it by one page and writes
	// to the new page's last byte.
	p := load(t, e, Spec{Name: "big", Wasm: watModule(t, `(module
		(memory (export "memory") 256)
		(func (export "sluice_abi_version") (result i32) (i32.const 1))
		(func (export "sluice_on_mail") (result i32)
			(if (i32.lt_s (memory.grow (i32.const 1)) (i32.const 0)) (then unreachable))
			(i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)) (i32.const 7))
			(i32.const 0)))`)})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	var insts []*instance
	var linear uint64
	for range 8 {
		sc, cancel := newStartCtx(context.Background(), 10*time.Second, "test")
		inst, ce := p.instantiate(sc)
		cancel()
		if ce != nil {
			t.Fatal(ce)
		}
		insts = append(insts, inst)
		linear += uint64(inst.mod.Memory().Size())
	}
	grew := int64(heap()) - int64(before)
	t.Logf("8 instances: %d KiB of linear memory, Go heap grew by %d KiB", linear>>10, grew>>10)
	if grew > int64(linear/8) {
		t.Errorf("the Go heap grew by %d bytes for %d bytes of linear memory; want it outside the heap", grew, linear)
	}
	for _, inst := range insts {
		inst.close(context.Background())
	}
	for range 3 {
		if _, err := p.Call(context.Background(), stateAt(t, filter.Mail)); err != nil {
			t.Fatalf("a hook that grows its memory and writes to it: %v", err)
		}
	}
}
