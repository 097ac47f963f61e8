package kv

import (
	"io"
	"strconv"
	"sync"
	"time"
)

// Defaults of MemoryOptions.
const (
	DefaultMaxKeys       = 1_000_000
	DefaultSweepInterval = time.Minute
	// DefaultSweepBatch bounds how many keys one sweep tick examines, so a
	// sweep never holds the lock for long.
	DefaultSweepBatch = 10_000
	// DefaultSaveInterval is how often a store with a Path is saved.
	DefaultSaveInterval = 30 * time.Second
)

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// MaxKeys caps the number of keys over all namespaces; 0 means
	// DefaultMaxKeys. Storing a new key at the cap evicts an expired key
	// if one is found, else the oldest key.
	MaxKeys int
	// SweepInterval is how often expired keys are removed in the
	// background; 0 means DefaultSweepInterval, negative disables the
	// sweeper (expired keys are then removed lazily and by eviction).
	SweepInterval time.Duration
	// SweepBatch bounds the keys examined per sweep tick; 0 means
	// DefaultSweepBatch.
	SweepBatch int
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// Path, if set, is a file the store is loaded from by NewMemoryFile
	// and saved to every SaveInterval and on Close, atomically (write a
	// temporary file in the same directory, fsync, rename). Expired keys
	// are not saved. NewMemory ignores Path, so that a store that did not
	// load the file never overwrites it.
	Path string
	// SaveInterval is how often the store is saved to Path when it
	// changed since the last save; 0 means DefaultSaveInterval, negative
	// saves only on Close (and Save).
	SaveInterval time.Duration
	// OnSaveError, if set, is called with the error of a failed periodic
	// save (the file then keeps its previous content). Close and Save
	// return their own errors.
	OnSaveError func(error)
}

// entryKey identifies a key within its namespace.
type entryKey struct{ ns, key string }

// created records that a key was created with a sequence number; it is
// stale once the key is gone or was created again.
type created struct {
	k   entryKey
	seq uint64
}

type entry struct {
	val     []byte
	expires time.Time // zero: never
	seq     uint64    // creation order, for evicting the oldest
}

// Memory is an in-process Store. Create it with NewMemory and stop its
// sweeper with Close.
type Memory struct {
	maxKeys int
	batch   int
	now     func() time.Time

	mu      sync.Mutex
	m       map[entryKey]*entry
	order   []created // keys in creation order; may hold stale items
	seq     uint64
	cursor  []entryKey // keys left to examine in the current sweep
	changes uint64     // count of writes, for skipping needless saves
	stop    chan struct{}
	stopped sync.Once
	workers sync.WaitGroup // the sweeper and the saver

	// Persistence, see persist.go.
	path        string
	onSaveError func(error)
	saveMu      sync.Mutex // serialises saves
	saved       uint64     // changes at the last successful save; under mu
	// wrap, if set, wraps the file writer of a save; tests use it to fail
	// a save halfway.
	wrap func(io.Writer) io.Writer
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-process store and starts its sweeper. It
// ignores opts.Path: NewMemoryFile loads the file and saves to it.
func NewMemory(opts MemoryOptions) *Memory {
	opts.Path = ""
	s := newMemory(opts)
	s.start(opts)
	return s
}

// newMemory returns an empty store without starting its goroutines.
func newMemory(opts MemoryOptions) *Memory {
	s := &Memory{
		maxKeys: opts.MaxKeys,
		batch:   opts.SweepBatch,
		now:     opts.Now,
		m:       make(map[entryKey]*entry),
		stop:    make(chan struct{}),

		path:        opts.Path,
		onSaveError: opts.OnSaveError,
	}
	if s.maxKeys <= 0 {
		s.maxKeys = DefaultMaxKeys
	}
	if s.batch <= 0 {
		s.batch = DefaultSweepBatch
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// start starts the sweeper and, with a Path, the saver.
func (s *Memory) start(opts MemoryOptions) {
	iv := opts.SweepInterval
	if iv == 0 {
		iv = DefaultSweepInterval
	}
	if iv > 0 {
		s.workers.Go(func() { s.sweeper(iv) })
	}
	save := opts.SaveInterval
	if save == 0 {
		save = DefaultSaveInterval
	}
	if s.path != "" && save > 0 {
		s.workers.Go(func() { s.saver(save) })
	}
}

// Close stops the sweeper and the saver and, with a Path, saves the store
// a last time, returning that save's error. The store stays usable; a
// later Close saves again.
func (s *Memory) Close() error {
	s.stopped.Do(func() { close(s.stop) })
	s.workers.Wait()
	return s.Save()
}

// Len returns the number of keys held, including expired keys not yet
// removed.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Memory) sweeper(iv time.Duration) {
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep examines up to SweepBatch keys, continuing where the previous
// sweep stopped, and removes the expired ones. It returns how many it
// removed. The background sweeper calls it; tests may call it directly.
func (s *Memory) Sweep() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cursor) == 0 {
		s.cursor = make([]entryKey, 0, len(s.m))
		for k := range s.m {
			s.cursor = append(s.cursor, k)
		}
	}
	n := min(s.batch, len(s.cursor))
	now := s.now()
	removed := 0
	for _, k := range s.cursor[:n] {
		if e, ok := s.m[k]; ok && e.expired(now) {
			delete(s.m, k)
			removed++
		}
	}
	s.cursor = s.cursor[n:]
	if len(s.cursor) == 0 {
		s.cursor = nil
	}
	return removed
}

func (e *entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// live returns the unexpired entry for k, removing an expired one.
// Call with s.mu held.
func (s *Memory) live(k entryKey, now time.Time) *entry {
	e, ok := s.m[k]
	if !ok {
		return nil
	}
	if e.expired(now) {
		delete(s.m, k)
		return nil
	}
	return e
}

// create adds a new entry for k, evicting first if the store is full.
// Call with s.mu held and k absent.
func (s *Memory) create(k entryKey, val []byte, ttl time.Duration, now time.Time) *entry {
	if len(s.m) >= s.maxKeys {
		s.evict(now)
	}
	s.seq++
	e := &entry{val: val, seq: s.seq}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	s.m[k] = e
	s.order = append(s.order, created{k, s.seq})
	// Compact the creation order when stale keys dominate it.
	if len(s.order) > 2*len(s.m)+1024 {
		s.compact()
	}
	return e
}

// evict removes one key: an expired one if a bounded scan finds one, else
// the oldest. Call with s.mu held.
func (s *Memory) evict(now time.Time) {
	scanned := 0
	for k, e := range s.m {
		if e.expired(now) {
			delete(s.m, k)
			return
		}
		if scanned++; scanned >= 64 {
			break
		}
	}
	for len(s.order) > 0 {
		c := s.order[0]
		s.order = s.order[1:]
		if e, ok := s.m[c.k]; ok && e.seq == c.seq {
			delete(s.m, c.k)
			return
		}
	}
}

// compact drops stale items from the creation order. Call with s.mu held.
func (s *Memory) compact() {
	out := make([]created, 0, len(s.m))
	for _, c := range s.order {
		if e, ok := s.m[c.k]; ok && e.seq == c.seq {
			out = append(out, c)
		}
	}
	s.order = out
}

// Get implements Store.
func (s *Memory) Get(ns, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(entryKey{ns, key}, s.now())
	if e == nil {
		return nil, false
	}
	return append([]byte(nil), e.val...), true
}

// Set implements Store.
func (s *Memory) Set(ns, key string, val []byte, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := entryKey{ns, key}
	v := append([]byte(nil), val...)
	s.changes++
	if e := s.live(k, now); e != nil {
		e.val = v
		e.expires = time.Time{}
		if ttl > 0 {
			e.expires = now.Add(ttl)
		}
		return
	}
	s.create(k, v, ttl, now)
}

// Incr implements Store. The sum saturates at the int64 range.
func (s *Memory) Incr(ns, key string, delta int64, ttl time.Duration) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := entryKey{ns, key}
	s.changes++
	e := s.live(k, now)
	if e == nil {
		e = s.create(k, nil, ttl, now)
	}
	cur, _ := strconv.ParseInt(string(e.val), 10, 64)
	n := cur + delta
	switch {
	case delta > 0 && n < cur:
		n = int64(^uint64(0) >> 1)
	case delta < 0 && n > cur:
		n = -int64(^uint64(0)>>1) - 1
	}
	e.val = strconv.AppendInt(e.val[:0], n, 10)
	return n
}

// Delete implements Store.
func (s *Memory) Delete(ns, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := entryKey{ns, key}
	if s.live(k, s.now()) == nil {
		return false
	}
	delete(s.m, k)
	s.changes++
	return true
}
