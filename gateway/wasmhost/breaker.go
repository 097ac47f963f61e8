package wasmhost

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// Defaults of the per-plugin circuit breaker (sdk/ABI.md §5).
const (
	DefaultBreakerThreshold  = 10
	DefaultBreakerWindow     = 50
	DefaultBreakerFaultRate  = 0.5
	DefaultBreakerBackoff    = time.Second
	DefaultBreakerMaxBackoff = time.Minute

	// MaxBreakerWindow bounds breaker_window (the window's memory and the
	// time to fill it).
	MaxBreakerWindow = 10000

	// poisonMemory is how many faulted calls (by key, see callKey) the
	// breaker remembers: their repeats count neither way, and they are
	// never the half-open trial call.
	poisonMemory = 4096
)

// Breaker states. Only the breaker's lock writes the state; allow reads it
// with one atomic load.
const (
	breakerClosed int32 = iota
	breakerOpen
	breakerHalfOpen
)

// breaker stops a plugin that fails broadly from turning every message into
// a new instantiation (a Go plugin costs milliseconds and megabytes each
// time), without letting a few poison messages stop it for everyone.
//
// Calls are told apart by their key (callKey): what a retry of the same
// message carries again, even in a new session. The first fault of a key is
// a fault; a later fault of a key that already faulted (an MTA retrying a
// poison message) counts neither way. While closed, the breaker opens when
// threshold calls of distinct keys in a row fault, or when, among the last
// window distinct keys, at least rate of them faulted. Open, calls fail at
// once with a "breaker" CallError, which on_error handles like any plugin
// error. When the backoff has passed it is half-open: one call goes through,
// never one whose key faulted before; a success closes it, a fault opens it
// again for twice as long, up to max. A nil *breaker is disabled.
type breaker struct {
	plugin    string
	log       *slog.Logger
	threshold int // consecutive faults of distinct keys
	minFaults int // faults among the window's keys that open it
	base, max time.Duration
	now       func() time.Time               // the clock; tests replace it
	onChange  func(plugin string, open bool) // may be nil
	seed      maphash.Seed                   // of callKey

	state atomic.Int32

	mu      sync.Mutex
	streak  int           // consecutive faults of distinct keys while closed
	recent  keyWindow     // the last window distinct keys while closed
	poison  keyMemory     // keys that faulted
	why     string        // why the breaker opened, for refusals
	backoff time.Duration // of the current or last opening
	until   time.Time     // end of the current opening
	probing bool          // the half-open trial call is running
}

// newBreaker returns the breaker of s, or nil if s disables it.
func newBreaker(s Spec, log *slog.Logger) *breaker {
	if s.BreakerThreshold < 0 {
		return nil
	}
	b := &breaker{
		plugin:    s.Name,
		log:       log,
		threshold: s.BreakerThreshold,
		base:      s.BreakerBackoff,
		max:       s.BreakerMaxBackoff,
		now:       time.Now,
		onChange:  s.OnBreaker,
		seed:      maphash.MakeSeed(),
	}
	if b.threshold == 0 {
		b.threshold = DefaultBreakerThreshold
	}
	window := s.BreakerWindow
	if window <= 0 {
		window = DefaultBreakerWindow
	}
	window = min(window, MaxBreakerWindow)
	rate := s.BreakerFaultRate
	if !(rate > 0 && rate <= 1) {
		rate = DefaultBreakerFaultRate
	}
	// ceil(rate*window), forgiving float error such as 0.3*10 = 3.0000000000000004
	b.minFaults = max(1, int(math.Ceil(rate*float64(window)-1e-9)))
	b.recent.init(window)
	if b.base <= 0 {
		b.base = DefaultBreakerBackoff
	}
	if b.max <= 0 {
		b.max = DefaultBreakerMaxBackoff
	}
	b.max = max(b.max, b.base)
	return b
}

// allow decides whether a call with key may run. It returns probe = true
// for the one trial call of the half-open state, or the error that
// short-circuits the call.
func (b *breaker) allow(ph filter.Phase, fn string, key uint64) (probe bool, ce *CallError) {
	if b == nil || b.state.Load() == breakerClosed {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	switch b.state.Load() {
	case breakerClosed: // closed since the load above
		return false, nil
	case breakerOpen:
		if now.Before(b.until) {
			return false, b.refusal(ph, fn, fmt.Sprintf("retrying in %v", ceilMillis(b.until.Sub(now))))
		}
		b.state.Store(breakerHalfOpen)
		b.log.Info("plugin circuit breaker half-open: letting one call through")
	}
	if b.probing {
		return false, b.refusal(ph, fn, "one trial call is running")
	}
	if b.poison.has(key) {
		// A known poison message would fault again and keep the plugin
		// stopped for everyone: the trial is the next other call.
		return false, b.refusal(ph, fn, "this message faulted before and is not a trial call")
	}
	b.probing = true
	return true, nil
}

func (b *breaker) refusal(ph filter.Phase, fn, when string) *CallError {
	return &CallError{Plugin: b.plugin, Phase: ph, Func: fn, Kind: KindBreaker,
		Reason: fmt.Sprintf("circuit breaker open (%s); %s", b.why, when)}
}

// record accounts for the result of a call with key that allow let
// through. Cancellation and a closed plugin say nothing about the plugin's
// health.
func (b *breaker) record(probe bool, key uint64, err error) {
	if b == nil {
		return
	}
	fault := err != nil
	if fault && !countsAsFault(err) {
		if probe {
			b.mu.Lock()
			b.probing = false // the next call is the trial
			b.mu.Unlock()
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case probe && !fault:
		b.probing, b.backoff = false, 0
		b.reset()
		b.state.Store(breakerClosed)
		b.log.Info("plugin circuit breaker closed: the plugin works again")
		b.notify(false)
	case probe:
		b.probing = false
		b.poison.add(key)
		b.why = "the trial call faulted too"
		b.open(min(2*b.backoff, b.max), err)
	case b.state.Load() != breakerClosed:
		// A call let through before the breaker opened.
		if fault {
			b.poison.add(key)
		}
	case !fault:
		b.streak = 0
		b.recent.add(key, false)
	case b.poison.has(key):
		// A repeat of a message that already faulted: counted once.
	default:
		b.poison.add(key)
		b.streak++
		b.recent.add(key, true)
		switch {
		case b.streak >= b.threshold:
			b.why = fmt.Sprintf("%d distinct calls in a row faulted", b.streak)
		case b.recent.full() && b.recent.faulted >= b.minFaults:
			b.why = fmt.Sprintf("%d of the last %d distinct calls faulted", b.recent.faulted, b.recent.len())
		default:
			return
		}
		b.open(b.base, err)
	}
}

// reset forgets the closed state's counts (not the poison keys). The
// caller holds b.mu.
func (b *breaker) reset() {
	b.streak = 0
	b.recent.init(len(b.recent.keys))
}

// countsAsFault reports whether err says something about the plugin's
// health: a cancellation or a closed plugin does not.
func countsAsFault(err error) bool {
	var ce *CallError
	return !errors.As(err, &ce) || (ce.Kind != KindCancelled && ce.Kind != KindClosed)
}

// open opens the breaker for d. The caller holds b.mu.
func (b *breaker) open(d time.Duration, err error) {
	b.backoff = d
	b.until = b.now().Add(d)
	b.reset()
	b.state.Store(breakerOpen)
	b.log.Warn("plugin circuit breaker open: calls fail without running the plugin",
		"why", b.why, "retry_in", d, "last_error", err.Error())
	b.notify(true)
}

// notify runs the OnBreaker hook. The caller holds b.mu, so the hook sees
// the changes in order; it must not call the plugin.
func (b *breaker) notify(open bool) {
	if b.onChange != nil {
		b.onChange(b.plugin, open)
	}
}

// isOpen reports whether calls are being short-circuited (open or
// half-open).
func (b *breaker) isOpen() bool {
	return b != nil && b.state.Load() != breakerClosed
}

// ceilMillis rounds d up to a millisecond, so "retrying in 0s" is never
// said while the breaker is open.
func ceilMillis(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// BreakerOpen reports whether the plugin's circuit breaker is open or
// half-open, that is whether calls fail without running the plugin.
func (p *Plugin) BreakerOpen() bool { return p.brk.isOpen() }

// keyWindow holds the last len(keys) distinct keys and whether each
// faulted, oldest first from next.
type keyWindow struct {
	keys    []uint64
	bad     []bool
	at      map[uint64]int // key -> index in keys
	n, next int
	faulted int // how many of the keys faulted
}

func (w *keyWindow) init(size int) {
	w.keys, w.bad = make([]uint64, size), make([]bool, size)
	w.at = make(map[uint64]int, size)
	w.n, w.next, w.faulted = 0, 0, 0
}

func (w *keyWindow) len() int   { return w.n }
func (w *keyWindow) full() bool { return w.n == len(w.keys) }

// add records an outcome of key: a new key enters the window (the oldest
// leaves when it is full); a key already there is marked if it faulted now.
func (w *keyWindow) add(key uint64, fault bool) {
	if i, ok := w.at[key]; ok {
		if fault && !w.bad[i] {
			w.bad[i] = true
			w.faulted++
		}
		return
	}
	i := w.next
	if w.n == len(w.keys) {
		delete(w.at, w.keys[i])
		if w.bad[i] {
			w.faulted--
		}
	} else {
		w.n++
	}
	w.keys[i], w.bad[i] = key, fault
	w.at[key] = i
	if fault {
		w.faulted++
	}
	w.next = (i + 1) % len(w.keys)
}

// keyMemory is a set of the last poisonMemory keys added.
type keyMemory struct {
	keys []uint64
	set  map[uint64]struct{}
	next int
}

func (m *keyMemory) has(key uint64) bool {
	_, ok := m.set[key]
	return ok
}

func (m *keyMemory) add(key uint64) {
	if m.has(key) {
		return
	}
	if m.set == nil {
		m.set = make(map[uint64]struct{})
	}
	if len(m.keys) < poisonMemory {
		m.keys = append(m.keys, key)
	} else {
		delete(m.set, m.keys[m.next])
		m.keys[m.next] = key
		m.next = (m.next + 1) % poisonMemory
	}
	m.set[key] = struct{}{}
}

// writeField hashes s and a separator.
func writeField(h *maphash.Hash, s string) {
	h.WriteString(s)
	h.WriteByte(0)
}

// keyBodyBytes is how much of the body's head and tail callKey hashes.
const keyBodyBytes = 32 << 10

// messageID is the header whose value identifies a message across retries.
var messageID = []byte("Message-ID")

// callKey returns what identifies st's call across a client's retries,
// which come in new sessions, maybe from another address of the sender's
// pool: the phase and what a retry repeats. Connect and helo: the client's
// address and names. Mail: the sender and its parameters. Rcpt: sender and
// recipient. Data: sender, recipients and the Message-ID header, or the
// body when there is none (its size, first and last keyBodyBytes, so a big
// body costs no more). Distinct messages can share a key (two mails without
// Message-ID and with the same body); that only makes the breaker count
// them once.
func (b *breaker) callKey(st *filter.State) uint64 {
	if b == nil {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(b.seed)
	h.WriteByte(byte(st.Phase))
	switch st.Phase {
	case filter.Connect, filter.Helo:
		if s := st.Session; s != nil {
			a := s.ClientIP.As16()
			h.Write(a[:])
			writeField(&h, s.ClientName)
			if st.Phase == filter.Helo {
				writeField(&h, s.Helo)
			}
		}
	case filter.Mail:
		writeField(&h, st.From)
		writeField(&h, st.MailParams)
	case filter.Rcpt:
		writeField(&h, st.From)
		writeField(&h, st.Rcpt)
		writeField(&h, st.RcptParams)
	default:
		writeField(&h, st.From)
		for _, r := range st.Rcpts {
			writeField(&h, r)
		}
		if m := st.Msg; m != nil {
			if i := m.Find(messageID, 0); i >= 0 {
				h.Write(m.Fields[i].Value())
			} else {
				// The body's length, head and tail: as stable across
				// retries as the whole body, at a bounded cost.
				b := m.Body
				h.WriteByte(1)
				h.WriteString(strconv.Itoa(len(b)))
				if len(b) > 2*keyBodyBytes {
					h.Write(b[:keyBodyBytes])
					b = b[len(b)-keyBodyBytes:]
				}
				h.Write(b)
			}
		}
	}
	return h.Sum64()
}
