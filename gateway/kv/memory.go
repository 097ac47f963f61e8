package kv

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// Defaults of MemoryOptions.
const (
	// DefaultMaxKeys caps the keys of all namespaces together: a safety
	// net behind the per-namespace quotas (SetQuota).
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
	// DefaultMaxKeys. Storing a new key at the cap evicts a key of the
	// same namespace (an expired one if a short scan finds one, else its
	// oldest), never another namespace's; a namespace with no key to give
	// up gets ErrQuota.
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

// EntryOverhead is what a key costs against its namespace's quota beyond
// its key and value bytes: about what the store holds per key (map slot,
// entry, creation-order slot). sdk/ABI.md §4.8 documents it.
const EntryOverhead = abi.KVEntryOverhead

// minValueCost is the least a value counts for: the longest decimal
// counter, so that Incr of an existing key never needs more quota.
const minValueCost = abi.KVMinValueCost

// cost is what a key with this value counts against its quota.
func cost(key string, val []byte) int64 {
	return EntryOverhead + int64(len(key)) + int64(max(len(val), minValueCost))
}

// ErrQuota is the error of a write that would take a namespace past its
// quota (SetQuota), or of a new key in a store at its MaxKeys when the
// namespace has no key of its own to evict. Nothing was written.
var ErrQuota = errors.New("kv: namespace quota exceeded")

// space is the accounting of one namespace.
type space struct {
	quota int64     // bytes; 0: none
	used  int64     // sum of cost over its keys, expired ones included until removed
	keys  int       // its keys, expired ones included
	order []created // its keys in creation order; may hold stale items
	// scanned is when a full namespace was last scanned for expired
	// keys; a flood of refused writes scans at most once a second.
	scanned time.Time
}

// Memory is an in-process Store. Create it with NewMemory and stop its
// sweeper with Close.
type Memory struct {
	maxKeys int
	batch   int
	now     func() time.Time

	mu      sync.Mutex
	m       map[entryKey]*entry
	spaces  map[string]*space // per namespace; kept while a quota is set
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
		spaces:  make(map[string]*space),
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
		s.workers.Go(func() { s.every(iv, func() { s.Sweep() }) })
	}
	save := opts.SaveInterval
	if save == 0 {
		save = DefaultSaveInterval
	}
	if s.path != "" && save > 0 {
		s.workers.Go(func() { s.every(save, s.saveChanged) })
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

// every calls f every iv until the store is closed: the sweeper and the
// saver.
func (s *Memory) every(iv time.Duration, f func()) {
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			f()
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
			s.remove(k, e)
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
		s.remove(k, e)
		return nil
	}
	return e
}

// space returns the accounting of ns, creating it. Call with s.mu held.
func (s *Memory) space(ns string) *space {
	sp := s.spaces[ns]
	if sp == nil {
		sp = &space{}
		s.spaces[ns] = sp
	}
	return sp
}

// remove deletes k, whose entry is e. Call with s.mu held.
func (s *Memory) remove(k entryKey, e *entry) {
	delete(s.m, k)
	sp := s.spaces[k.ns]
	if sp == nil {
		return
	}
	sp.used -= cost(k.key, e.val)
	sp.keys--
	if sp.keys == 0 && sp.quota == 0 {
		delete(s.spaces, k.ns)
	}
}

// SetQuota implements Store: it sets the bytes the keys of ns may take
// (each key counts EntryOverhead + its length + its value's length, at
// least minValueCost); 0 removes the quota. Keys already over a lowered
// quota stay, but no write may grow the namespace until it is back under.
func (s *Memory) SetQuota(ns string, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.space(ns)
	sp.quota = max(bytes, 0)
	if sp.keys == 0 && sp.quota == 0 {
		delete(s.spaces, ns)
	}
}

// Usage returns the bytes the keys of ns count against its quota and the
// quota (0: none).
func (s *Memory) Usage(ns string) (used, quota int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp := s.spaces[ns]; sp != nil {
		return sp.used, sp.quota
	}
	return 0, 0
}

// fits makes room for growing ns by grow bytes within its quota: if it
// does not fit, expired keys found by a short scan of the namespace are
// removed first. Call with s.mu held.
func (s *Memory) fits(ns string, grow int64, now time.Time) bool {
	sp := s.space(ns)
	if grow <= 0 || sp.quota == 0 || sp.used+grow <= sp.quota {
		return true
	}
	if sp.scanned.IsZero() || now.Sub(sp.scanned) >= time.Second || now.Before(sp.scanned) {
		sp.scanned = now
		s.reclaim(sp, now, quotaScan)
	}
	return sp.used+grow <= sp.quota
}

// quotaScan bounds how many keys of a namespace one write examines for
// expired ones when the namespace is full.
const quotaScan = 256

// reclaim removes the expired keys among the oldest n of a namespace
// (stale items of its creation order are dropped by create's compaction).
func (s *Memory) reclaim(sp *space, now time.Time, n int) {
	for i := 0; i < len(sp.order) && i < n; i++ {
		c := sp.order[i]
		if e, ok := s.m[c.k]; ok && e.seq == c.seq && e.expired(now) {
			s.remove(c.k, e)
		}
	}
}

// create adds a new entry for k after checking its namespace's quota and,
// at MaxKeys, evicting a key of the same namespace. Call with s.mu held
// and k absent.
func (s *Memory) create(k entryKey, val []byte, ttl time.Duration, now time.Time) (*entry, error) {
	c := cost(k.key, val)
	if !s.fits(k.ns, c, now) {
		return nil, ErrQuota
	}
	sp := s.space(k.ns)
	if len(s.m) >= s.maxKeys && !s.evict(sp, now) {
		return nil, ErrQuota
	}
	s.seq++
	e := &entry{val: val, seq: s.seq}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	s.m[k] = e
	sp.used += c
	sp.keys++
	sp.order = append(sp.order, created{k, s.seq})
	// Compact the creation order when stale keys dominate it.
	if len(sp.order) > 2*sp.keys+1024 {
		s.compact(sp)
	}
	return e, nil
}

// evict removes one key of the namespace sp: an expired one if a bounded
// scan finds one, else its oldest. It reports false when the namespace
// has no key. Keys of other namespaces are never evicted: a plugin that
// fills the store cannot push out another plugin's state. Call with s.mu
// held.
func (s *Memory) evict(sp *space, now time.Time) bool {
	for i := 0; i < len(sp.order) && i < 64; i++ {
		c := sp.order[i]
		if e, ok := s.m[c.k]; ok && e.seq == c.seq && e.expired(now) {
			s.remove(c.k, e)
			return true
		}
	}
	for len(sp.order) > 0 {
		c := sp.order[0]
		sp.order = sp.order[1:]
		if e, ok := s.m[c.k]; ok && e.seq == c.seq {
			s.remove(c.k, e)
			return true
		}
	}
	return false
}

// compact drops stale items from a namespace's creation order. Call with
// s.mu held.
func (s *Memory) compact(sp *space) {
	out := make([]created, 0, sp.keys)
	for _, c := range sp.order {
		if e, ok := s.m[c.k]; ok && e.seq == c.seq {
			out = append(out, c)
		}
	}
	sp.order = out
}

// Get implements Store.
func (s *Memory) Get(ns, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(entryKey{ns, key}, s.now())
	if e == nil {
		return nil, false, nil
	}
	return append([]byte(nil), e.val...), true, nil
}

// Set implements Store. It returns ErrQuota, writing nothing, when the
// new value would take the namespace past its quota.
func (s *Memory) Set(ns, key string, val []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := entryKey{ns, key}
	v := append([]byte(nil), val...)
	if e := s.live(k, now); e != nil {
		grow := cost(key, v) - cost(key, e.val)
		if !s.fits(ns, grow, now) { // reclaims only expired keys: e stays
			return ErrQuota
		}
		s.changes++
		s.spaces[ns].used += grow
		e.val = v
		e.expires = time.Time{}
		if ttl > 0 {
			e.expires = now.Add(ttl)
		}
		return nil
	}
	if _, err := s.create(k, v, ttl, now); err != nil {
		return err
	}
	s.changes++
	return nil
}

// Incr implements Store. The sum saturates at the int64 range. Only
// creating a key can fail with ErrQuota: a counter's value never counts
// for more than an existing value (minValueCost).
func (s *Memory) Incr(ns, key string, delta int64, ttl time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := entryKey{ns, key}
	e := s.live(k, now)
	if e == nil {
		var err error
		if e, err = s.create(k, nil, ttl, now); err != nil {
			return 0, err
		}
	}
	s.changes++
	cur, _ := strconv.ParseInt(string(e.val), 10, 64)
	n := cur + delta
	switch {
	case delta > 0 && n < cur:
		n = int64(^uint64(0) >> 1)
	case delta < 0 && n > cur:
		n = -int64(^uint64(0)>>1) - 1
	}
	old := cost(key, e.val)
	e.val = strconv.AppendInt(e.val[:0], n, 10)
	s.spaces[ns].used += cost(key, e.val) - old // never positive
	return n, nil
}

// Delete implements Store.
func (s *Memory) Delete(ns, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := entryKey{ns, key}
	e := s.live(k, s.now())
	if e == nil {
		return false, nil
	}
	s.remove(k, e)
	s.changes++
	return true, nil
}
