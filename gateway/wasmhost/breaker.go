package wasmhost

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// Defaults of the per-plugin circuit breaker (TESTPLAN row 44).
const (
	DefaultBreakerThreshold  = 5
	DefaultBreakerBackoff    = time.Second
	DefaultBreakerMaxBackoff = time.Minute
)

// Breaker states. Only the breaker's lock writes the state; Call reads it
// with one atomic load.
const (
	breakerClosed int32 = iota
	breakerOpen
	breakerHalfOpen
)

// breaker stops a plugin that faults on every call from turning every
// message into a new instantiation (a Go plugin costs milliseconds and
// megabytes each time). After threshold consecutive faults it opens: calls
// fail at once with a "breaker" CallError, which on_error handles like any
// plugin error. When the backoff has passed it is half-open: one call goes
// through; a success closes it, a fault opens it again for twice as long,
// up to max. A nil *breaker is disabled.
type breaker struct {
	plugin    string
	log       *slog.Logger
	threshold int
	base, max time.Duration
	now       func() time.Time               // the clock; tests replace it
	onChange  func(plugin string, open bool) // may be nil

	state  atomic.Int32
	faults atomic.Int32 // consecutive faults while closed

	mu      sync.Mutex
	streak  int           // consecutive faults since the last success
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
	}
	if b.threshold == 0 {
		b.threshold = DefaultBreakerThreshold
	}
	if b.base <= 0 {
		b.base = DefaultBreakerBackoff
	}
	if b.max <= 0 {
		b.max = DefaultBreakerMaxBackoff
	}
	b.max = max(b.max, b.base)
	return b
}

// allow decides whether a call may run. It returns probe = true for the one
// trial call of the half-open state, or the error that short-circuits the
// call.
func (b *breaker) allow(ph filter.Phase, fn string) (probe bool, ce *CallError) {
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
		b.log.Info("plugin circuit breaker half-open: letting one call through", "faults", b.streak)
	}
	if b.probing {
		return false, b.refusal(ph, fn, "one trial call is running")
	}
	b.probing = true
	return true, nil
}

func (b *breaker) refusal(ph filter.Phase, fn, when string) *CallError {
	return &CallError{Plugin: b.plugin, Phase: ph, Func: fn, Kind: "breaker",
		Reason: fmt.Sprintf("circuit breaker open after %d consecutive faults; %s", b.streak, when)}
}

// record accounts for the result of a call that allow let through.
// Cancellation and a closed plugin say nothing about the plugin's health.
func (b *breaker) record(probe bool, err error) {
	if b == nil {
		return
	}
	if err != nil && !countsAsFault(err) {
		if probe {
			b.mu.Lock()
			b.probing = false // the next call is the trial
			b.mu.Unlock()
		}
		return
	}
	switch {
	case err == nil && !probe:
		if b.faults.Load() != 0 {
			b.faults.Store(0)
		}
	case err == nil:
		b.mu.Lock()
		b.probing, b.streak, b.backoff = false, 0, 0
		b.faults.Store(0)
		b.state.Store(breakerClosed)
		b.log.Info("plugin circuit breaker closed: the plugin works again")
		b.notify(false)
		b.mu.Unlock()
	case probe:
		b.mu.Lock()
		b.probing = false
		b.streak++
		b.open(min(2*b.backoff, b.max), err)
		b.mu.Unlock()
	default:
		if int(b.faults.Add(1)) < b.threshold {
			return
		}
		b.mu.Lock()
		if b.state.Load() == breakerClosed && int(b.faults.Load()) >= b.threshold {
			b.streak = int(b.faults.Load())
			b.open(b.base, err)
		}
		b.mu.Unlock()
	}
}

// countsAsFault reports whether err says something about the plugin's
// health: a cancellation or a closed plugin does not. (Kept apart from
// record so that a successful call allocates nothing.)
func countsAsFault(err error) bool {
	var ce *CallError
	return !errors.As(err, &ce) || (ce.Kind != "cancelled" && ce.Kind != "closed")
}

// open opens the breaker for d. The caller holds b.mu.
func (b *breaker) open(d time.Duration, err error) {
	b.backoff = d
	b.until = b.now().Add(d)
	b.faults.Store(0)
	b.state.Store(breakerOpen)
	b.log.Warn("plugin circuit breaker open: calls fail without running the plugin",
		"faults", b.streak, "retry_in", d, "last_error", err.Error())
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
