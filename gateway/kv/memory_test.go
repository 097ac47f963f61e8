package kv

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock for TTL tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTest(t *testing.T, maxKeys int) (*Memory, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := NewMemory(MemoryOptions{MaxKeys: maxKeys, SweepInterval: -1, Now: c.now})
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

func TestSetGetDelete(t *testing.T) {
	s, _ := newTest(t, 0)
	if _, ok, _ := s.Get("p", "k"); ok {
		t.Fatal("Get on empty store found a value")
	}
	val := []byte("v1")
	s.Set("p", "k", val, 0)
	val[0] = 'X' // the store must have copied it
	got, ok, _ := s.Get("p", "k")
	if !ok || string(got) != "v1" {
		t.Fatalf("Get = %q, %v; want v1", got, ok)
	}
	got[0] = 'Y' // and hand out copies
	if got, _, _ := s.Get("p", "k"); string(got) != "v1" {
		t.Fatalf("Get after mutating the result = %q", got)
	}
	if ok, _ := s.Delete("p", "k"); !ok {
		t.Fatal("Delete of a present key = false")
	}
	if ok, _ := s.Delete("p", "k"); ok {
		t.Fatal("second Delete = true")
	}
	if _, ok, _ := s.Get("p", "k"); ok {
		t.Fatal("Get after Delete found a value")
	}
}

func TestTTL(t *testing.T) {
	s, c := newTest(t, 0)
	s.Set("p", "short", []byte("x"), 10*time.Second)
	s.Set("p", "forever", []byte("y"), 0)
	c.add(9 * time.Second)
	if _, ok, _ := s.Get("p", "short"); !ok {
		t.Fatal("key expired before its TTL")
	}
	c.add(time.Second)
	if _, ok, _ := s.Get("p", "short"); ok {
		t.Fatal("key still present at its TTL")
	}
	if ok, _ := s.Delete("p", "short"); ok {
		t.Fatal("Delete of an expired key = true")
	}
	c.add(1000 * time.Hour)
	if _, ok, _ := s.Get("p", "forever"); !ok {
		t.Fatal("key without TTL expired")
	}
	// Set replaces the expiry.
	s.Set("p", "forever", []byte("z"), time.Second)
	c.add(time.Second)
	if _, ok, _ := s.Get("p", "forever"); ok {
		t.Fatal("Set did not apply the new TTL")
	}
}

func TestIncrTTLOnlyOnCreate(t *testing.T) {
	s, c := newTest(t, 0)
	if n, _ := s.Incr("p", "n", 5, time.Minute); n != 5 {
		t.Fatalf("first Incr = %d, want 5", n)
	}
	c.add(50 * time.Second)
	// A later ttl must not extend the window.
	if n, _ := s.Incr("p", "n", -2, time.Hour); n != 3 {
		t.Fatalf("second Incr = %d, want 3", n)
	}
	if v, _, _ := s.Get("p", "n"); string(v) != "3" {
		t.Fatalf("Get = %q, want 3", v)
	}
	c.add(10 * time.Second)
	if n, _ := s.Incr("p", "n", 1, 0); n != 1 {
		t.Fatalf("Incr after expiry = %d, want 1 (recreated at 0)", n)
	}
	s.Set("p", "text", []byte("abc"), 0)
	if n, _ := s.Incr("p", "text", 2, 0); n != 2 {
		t.Fatalf("Incr of a non-number = %d, want 2", n)
	}
	s.Set("p", "big", []byte("9223372036854775800"), 0)
	if n, _ := s.Incr("p", "big", 100, 0); n != 1<<63-1 {
		t.Fatalf("Incr overflow = %d, want saturation", n)
	}
}

func TestIncrConcurrent(t *testing.T) {
	s, _ := newTest(t, 0)
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				s.Incr("p", "ctr", 1, time.Hour)
			}
		})
	}
	wg.Wait()
	if v, _, _ := s.Get("p", "ctr"); string(v) != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %s, want %d", v, workers*each)
	}
}

func TestNamespaces(t *testing.T) {
	s, _ := newTest(t, 0)
	s.Set("a", "k", []byte("from a"), 0)
	s.Set("b", "k", []byte("from b"), 0)
	s.Incr("a", "n", 7, 0)
	if v, _, _ := s.Get("a", "k"); string(v) != "from a" {
		t.Fatalf("a/k = %q", v)
	}
	if v, _, _ := s.Get("b", "k"); string(v) != "from b" {
		t.Fatalf("b/k = %q", v)
	}
	if _, ok, _ := s.Get("b", "n"); ok {
		t.Fatal("b sees a's counter")
	}
	if ok, _ := s.Delete("b", "n"); ok {
		t.Fatal("b deleted a's counter")
	}
	if v, _, _ := s.Get("a", "n"); string(v) != "7" {
		t.Fatalf("a/n = %q after b's delete", v)
	}
}

func TestEvictionPrefersExpiredThenOldest(t *testing.T) {
	s, c := newTest(t, 3)
	s.Set("p", "old", []byte("1"), 0)
	s.Set("p", "mid", []byte("2"), 0)
	s.Set("p", "ttl", []byte("3"), time.Second)
	c.add(time.Second) // "ttl" is now expired but still held
	s.Set("p", "new1", []byte("4"), 0)
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	if _, ok, _ := s.Get("p", "old"); !ok {
		t.Fatal("evicted the oldest key while an expired one was held")
	}
	s.Set("p", "new2", []byte("5"), 0)
	if _, ok, _ := s.Get("p", "old"); ok {
		t.Fatal("the oldest key survived eviction")
	}
	for _, k := range []string{"mid", "new1", "new2"} {
		if _, ok, _ := s.Get("p", k); !ok {
			t.Fatalf("key %s was evicted", k)
		}
	}
	// A re-created key counts as new.
	s.Delete("p", "mid")
	s.Set("p", "mid", []byte("6"), 0)
	s.Set("p", "new3", []byte("7"), 0)
	if _, ok, _ := s.Get("p", "mid"); !ok {
		t.Fatal("re-created key evicted as if it were old")
	}
	if _, ok, _ := s.Get("p", "new1"); ok {
		t.Fatal("new1 should have been the oldest")
	}
}

func TestSweepBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	s := NewMemory(MemoryOptions{SweepInterval: -1, SweepBatch: 10, Now: c.now})
	defer s.Close()
	for i := range 25 {
		s.Set("p", fmt.Sprint(i), nil, time.Second)
	}
	s.Set("p", "keep", nil, 0)
	c.add(time.Second)
	total := 0
	for _, want := range []int{10, 10, 6} {
		n := s.Sweep()
		if n > want {
			t.Fatalf("Sweep removed %d, more than the batch allows (%d)", n, want)
		}
		total += n
	}
	if total != 25 || s.Len() != 1 {
		t.Fatalf("three sweeps removed %d keys, %d left; want 25 removed, 1 left", total, s.Len())
	}
}
