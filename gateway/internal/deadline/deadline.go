// Package deadline sets a connection's I/O deadline only when it must move.
//
// Setting a deadline on a net.Conn resets a runtime timer, and each reset
// may wake the network poller or start a spinning thread to watch the new
// timer. A session that moved its deadline before every read and write paid
// that some thirty times a message. Lazy keeps the deadline it last set and
// leaves it in place while the wanted one is at most a small slack later:
// the timeout then fires up to that slack early, never late (RATIONALE.md,
// "Socket deadlines move only when they must").
package deadline

import "time"

// SlackDivisor bounds the slack for a timeout: a deadline may stand up to
// timeout/SlackDivisor before the wanted one, so a 5-minute idle limit may
// end a session about 5 s early, and a 100 ms one about 1.6 ms early.
const SlackDivisor = 64

// Lazy is one deadline of a connection (read, write, or both, according to
// the set function it is given). It is not safe for concurrent use: callers
// hold whatever lock guards the deadline.
type Lazy struct {
	set func(time.Time) error
	at  time.Time // the deadline last set; zero when none or unknown
	ok  bool      // at is known to be what the connection holds
}

// New returns a Lazy that sets deadlines with set (e.g. conn.SetReadDeadline).
func New(set func(time.Time) error) Lazy { return Lazy{set: set} }

// Set makes the deadline want, or leaves the current one when it is no
// later than want and at most slack before it. A zero want clears the
// deadline.
func (l *Lazy) Set(want time.Time, slack time.Duration) error {
	if l.ok && !l.at.IsZero() && !want.IsZero() && !want.Before(l.at) && want.Sub(l.at) <= slack {
		return nil
	}
	if l.ok && want.Equal(l.at) {
		return nil
	}
	if err := l.set(want); err != nil {
		l.ok = false
		return err
	}
	l.at, l.ok = want, true
	return nil
}

// After sets the deadline timeout from now, with timeout/SlackDivisor as
// the slack.
func (l *Lazy) After(timeout time.Duration) error {
	return l.Set(time.Now().Add(timeout), timeout/SlackDivisor)
}

// Forget records that the deadline was changed behind Lazy's back, so the
// next Set sets it whatever it is.
func (l *Lazy) Forget() { l.ok = false }
