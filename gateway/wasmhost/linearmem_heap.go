package wasmhost

// heapMemory is a linear memory in the Go heap, as wazero's default keeps
// it: the fallback where no mapping can be made.
type heapMemory struct {
	buf []byte
	max uint64
}

func (m *heapMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	nb := make([]byte, size)
	copy(nb, m.buf)
	m.buf = nb
	return nb
}

// Free leaves the buffer to the collector, which frees it once no call can
// reach it.
func (m *heapMemory) Free() {}

func (m *heapMemory) unmap() {}
