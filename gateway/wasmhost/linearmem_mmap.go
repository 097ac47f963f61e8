//go:build linux

package wasmhost

import (
	"os"
	"sync"
	"syscall"
)

var newLinearMemory = newMappedMemory

// mappedMemory is a linear memory in an anonymous mapping of its maximum
// size, reserved inaccessible (PROT_NONE, so nothing is committed) and made
// readable and writable as it grows. It never moves, so growing copies
// nothing. Accesses past the current size are refused by wazero's bounds
// checks before they could reach the reserve.
type mappedMemory struct {
	mu        sync.Mutex
	mem       []byte // the whole reservation; nil once unmapped
	committed uint64 // bytes made accessible, a multiple of the OS page
	freed     bool
}

// newMappedMemory reserves max bytes. A memory whose maximum is zero or
// beyond 32-bit addressing, or whose reservation fails, is kept in the Go
// heap instead (heapMemory).
func newMappedMemory(max uint64) linearMemory {
	if max == 0 || max > 1<<32 {
		return &heapMemory{max: max}
	}
	b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return &heapMemory{max: max}
	}
	return &mappedMemory{mem: b}
}

// Reallocate grows the memory to size bytes in place; nil refuses the
// growth (memory.grow then returns -1 to the guest).
func (m *mappedMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed || m.mem == nil || size > uint64(len(m.mem)) {
		return nil
	}
	if size > m.committed {
		ps := uint64(os.Getpagesize())
		end := min((size+ps-1)/ps*ps, uint64(len(m.mem)))
		if err := syscall.Mprotect(m.mem[m.committed:end], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = end
	}
	return m.mem[:size:size]
}

// Free drops the memory's pages (they read as zeros afterwards) but keeps
// the range mapped: see linearMemory.
func (m *mappedMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed || m.mem == nil {
		return
	}
	m.freed = true
	if m.committed > 0 {
		_ = syscall.Madvise(m.mem[:m.committed], syscall.MADV_DONTNEED)
	}
}

func (m *mappedMemory) unmap() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mem != nil {
		_ = syscall.Munmap(m.mem)
		m.mem = nil
	}
}
