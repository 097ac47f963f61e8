package wasmhost

// Stats is a snapshot of a plugin's pool of idle instances, for the tests
// and the conformance suite (guest memory must stay flat over many calls
// through one pooled instance).
type Stats struct {
	// Idle is the number of instances waiting in the pool. Instances serving
	// a call are not counted.
	Idle int
	// IdleMemory is the total size in bytes of the linear memories of the
	// idle instances. A WebAssembly memory never shrinks, so this is each
	// instance's high-water mark.
	IdleMemory uint64
}

// Stats returns a snapshot of the pool. It is safe for concurrent use: an
// idle instance runs no call while the pool's lock is held.
func (p *Plugin) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Idle: len(p.idle)}
	for _, inst := range p.idle {
		if m := inst.mod.Memory(); m != nil {
			s.IdleMemory += uint64(m.Size())
		}
	}
	return s
}
