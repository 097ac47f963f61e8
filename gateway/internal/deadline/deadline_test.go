package deadline

import (
	"errors"
	"net"
	"testing"
	"time"
)

// recorder counts the deadlines actually set.
type recorder struct {
	set []time.Time
	err error
}

func (r *recorder) fn(t time.Time) error {
	if r.err != nil {
		return r.err
	}
	r.set = append(r.set, t)
	return nil
}

func TestLazySetsOnlyWhenItMust(t *testing.T) {
	var r recorder
	l := New(r.fn)
	t0 := time.Unix(1_000_000, 0)
	slack := time.Second
	steps := []struct {
		want time.Time
		set  bool
		why  string
	}{
		{t0, true, "first deadline"},
		{t0, false, "same deadline"},
		{t0.Add(500 * time.Millisecond), false, "later within the slack: the standing one fires at most slack early"},
		{t0.Add(time.Second), false, "exactly the slack later"},
		{t0.Add(1001 * time.Millisecond), true, "later beyond the slack"},
		{t0, true, "earlier: must never fire late"},
		{time.Time{}, true, "cleared"},
		{time.Time{}, false, "cleared again"},
		{t0, true, "set after a clear"},
		{time.Unix(1, 0), true, "in the past (fail now)"},
	}
	for i, s := range steps {
		n := len(r.set)
		if err := l.Set(s.want, slack); err != nil {
			t.Fatal(err)
		}
		if got := len(r.set) > n; got != s.set {
			t.Fatalf("step %d (%s): set=%v, want %v", i, s.why, got, s.set)
		}
		if s.set && !r.set[len(r.set)-1].Equal(s.want) {
			t.Fatalf("step %d: set %v, want %v", i, r.set[len(r.set)-1], s.want)
		}
	}
	l.Forget()
	n := len(r.set)
	l.Set(time.Unix(1, 0), slack)
	if len(r.set) != n+1 {
		t.Fatal("after Forget the same deadline was not set again")
	}
}

// A failed set is retried on the next call rather than remembered.
func TestLazyFailedSetIsNotRemembered(t *testing.T) {
	r := recorder{err: errors.New("closed")}
	l := New(r.fn)
	t0 := time.Unix(1_000_000, 0)
	if err := l.Set(t0, time.Second); err == nil {
		t.Fatal("error not returned")
	}
	r.err = nil
	if err := l.Set(t0, time.Second); err != nil || len(r.set) != 1 {
		t.Fatalf("after a failure the deadline was not set: %v %v", err, r.set)
	}
}

// On a real connection, a read with a lazily extended idle deadline still
// times out, no later than the timeout after the last extension.
func TestLazyReadStillTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := New(c.SetReadDeadline)
	const timeout = 200 * time.Millisecond
	go func() {
		for range 5 {
			s.Write([]byte("x"))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	buf := make([]byte, 1)
	start := time.Now()
	var last time.Time
	for {
		if err := l.After(timeout); err != nil {
			t.Fatal(err)
		}
		_, err := c.Read(buf)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read: %v, want a timeout", err)
			}
			break
		}
		last = time.Now()
		if time.Since(start) > 5*time.Second {
			t.Fatal("no timeout")
		}
	}
	idle := time.Since(last)
	if idle < timeout-timeout/SlackDivisor-5*time.Millisecond || idle > timeout+time.Second {
		t.Fatalf("timed out %v after the last byte, want about %v", idle, timeout)
	}
}
