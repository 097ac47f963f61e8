package wasmhost

import (
	"context"
	"reflect"
	"runtime"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// linearMemory is a linear memory whose backing Sluice manages. Free (called
// by wazero when the instance closes) gives its pages back to the system at
// once but keeps the address range readable, since a guest closed from
// another goroutine may still be leaving its call; unmap releases the range
// itself, once nothing can reach the instance any more.
type linearMemory interface {
	experimental.LinearMemory
	unmap()
}

// memoryHook is one instantiation's allocator: it remembers the memory it
// made, so that instantiate can tie its release to the module.
type memoryHook struct{ mem linearMemory }

// withLinearMemory makes the instance created under the returned context
// keep its linear memory outside the Go heap where the platform allows it
// (linearmem_mmap.go). wazero's default keeps it in a Go slice that every
// memory.grow copies into a larger one: the old copies are garbage, and all
// of it counts as live heap, so the collector lets the heap grow to about
// twice the plugins' memory before it runs. A reserved range that grows in
// place costs its touched pages only (RATIONALE.md, "Plugin linear memory
// lives outside the Go heap").
func withLinearMemory(ctx context.Context) (context.Context, *memoryHook) {
	h := &memoryHook{}
	alloc := newLinearMemory
	if alloc == nil {
		return ctx, h
	}
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(capHint, max uint64) experimental.LinearMemory {
		m := alloc(max)
		h.mem = m
		return m
	})), h
}

// done ties the memory to mod: its range is unmapped once mod is
// unreachable, so no call can still be running in it. Without a module (the
// instantiation failed) nothing runs in it and it is unmapped now.
func (h *memoryHook) done(mod api.Module) {
	m := h.mem
	if m == nil {
		return
	}
	h.mem = nil
	v := reflect.ValueOf(mod)
	if mod == nil || v.Kind() != reflect.Pointer || v.IsNil() {
		m.Free()
		m.unmap()
		return
	}
	runtime.AddCleanup((*byte)(v.UnsafePointer()), linearMemory.unmap, m)
}
