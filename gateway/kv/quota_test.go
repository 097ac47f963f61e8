package kv

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// usageOf sums what the keys of ns cost, for checking the store's books.
func usageOf(s *Memory, ns string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, e := range s.m {
		if k.ns == ns {
			n += cost(k.key, e.val)
		}
	}
	return n
}

func TestQuota(t *testing.T) {
	s, c := newTest(t, 0)
	quota := int64(10 * (EntryOverhead + 1 + 100)) // ten keys of one byte with 100-byte values
	s.SetQuota("a", quota)
	val := []byte(strings.Repeat("v", 100))
	for i := range 10 {
		if err := s.Set("a", string(rune('0'+i)), val, 0); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	if err := s.Set("a", "x", val, 0); !errors.Is(err, ErrQuota) {
		t.Fatalf("11th key: %v; want ErrQuota", err)
	}
	if _, ok, _ := s.Get("a", "x"); ok {
		t.Fatal("a refused key was stored")
	}
	if err := s.Set("a", "0", append(val, 'w'), 0); !errors.Is(err, ErrQuota) {
		t.Fatalf("growing a value past the quota: %v; want ErrQuota", err)
	}
	if v, _, _ := s.Get("a", "0"); len(v) != 100 {
		t.Fatal("a refused value replaced the old one")
	}
	if err := s.Set("a", "0", val[:50], 0); err != nil {
		t.Fatalf("shrinking a value: %v", err)
	}
	if _, err := s.Incr("a", "n", 1, 0); !errors.Is(err, ErrQuota) {
		t.Fatalf("Incr creating a key past the quota: %v; want ErrQuota", err)
	}
	if n, err := s.Incr("a", "1", 5, 0); err != nil || n != 5 {
		t.Fatalf("Incr of an existing key = %d, %v; want 5 (never refused)", n, err)
	}
	// Other namespaces are not affected.
	if err := s.Set("b", "x", val, 0); err != nil {
		t.Fatalf("another namespace: %v", err)
	}
	// Deleting frees room; expired keys are reclaimed when the namespace
	// is full.
	s.Delete("a", "2")
	if err := s.Set("a", "x", val, time.Second); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	c.add(time.Second)
	if err := s.Set("a", "y", val, 0); err != nil {
		t.Fatalf("with an expired key to reclaim: %v", err)
	}
	if used, q := s.Usage("a"); used != usageOf(s, "a") || used > q || q != quota {
		t.Fatalf("Usage = %d of %d; the keys cost %d, quota %d", used, q, usageOf(s, "a"), quota)
	}
	// Sweeping keeps the books too.
	s.Set("a", "3", nil, time.Second)
	c.add(time.Second)
	s.Sweep()
	if used, _ := s.Usage("a"); used != usageOf(s, "a") {
		t.Fatalf("Usage after a sweep = %d; the keys cost %d", used, usageOf(s, "a"))
	}
}

// TestEvictionStaysInNamespace: a namespace that writes past the store's
// key cap evicts only its own keys, never another's (a greylist entry must
// survive a flood from another plugin).
func TestEvictionStaysInNamespace(t *testing.T) {
	const maxKeys = 10_000
	s, _ := newTest(t, maxKeys)
	if err := s.Set("greylist", "192.0.2/24 a@example.org b@example.net", []byte("1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	var key [4]byte
	for i := range maxKeys + 50 {
		binary.LittleEndian.PutUint32(key[:], uint32(i))
		if err := s.Set("flood", string(key[:]), []byte("x"), 0); err != nil {
			t.Fatalf("flood key %d: %v", i, err)
		}
	}
	if _, ok, _ := s.Get("greylist", "192.0.2/24 a@example.org b@example.net"); !ok {
		t.Fatal("the flood evicted another namespace's key")
	}
	if s.Len() != maxKeys {
		t.Fatalf("Len = %d, want the cap %d", s.Len(), maxKeys)
	}
	// A namespace with nothing to give up cannot push others out.
	if err := s.Set("newcomer", "k", nil, 0); !errors.Is(err, ErrQuota) {
		t.Fatalf("new namespace in a full store: %v; want ErrQuota", err)
	}
	// With the default quota, one namespace cannot even reach the cap.
	s2, _ := newTest(t, maxKeys)
	s2.SetQuota("flood", 64<<10)
	s2.Set("greylist", "k", []byte("1"), 0)
	var refused int
	for i := range maxKeys + 50 {
		binary.LittleEndian.PutUint32(key[:], uint32(i))
		if errors.Is(s2.Set("flood", string(key[:]), []byte("x"), 0), ErrQuota) {
			refused++
		}
	}
	if used, q := s2.Usage("flood"); refused == 0 || used > q {
		t.Fatalf("%d writes refused, usage %d of %d", refused, used, q)
	}
	if _, ok, _ := s2.Get("greylist", "k"); !ok {
		t.Fatal("greylist key lost")
	}
}

// TestQuotaAfterReload: usage is rebuilt from the file, so a namespace at
// its quota before a restart is at it after.
func TestQuotaAfterReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := NewMemoryFile(MemoryOptions{Path: path, SweepInterval: -1, SaveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	quota := int64(3 * (EntryOverhead + 1 + 100))
	s.SetQuota("a", quota)
	for _, k := range []string{"1", "2", "3"} {
		if err := s.Set("a", k, []byte(strings.Repeat("v", 100)), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.Set("b", "k", []byte("other"), 0)
	used, _ := s.Usage("a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := NewMemoryFile(MemoryOptions{Path: path, SweepInterval: -1, SaveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SetQuota("a", quota) // as the plugin's load does
	if u, q := s2.Usage("a"); u != used || q != quota {
		t.Fatalf("after reload Usage = %d of %d; want %d of %d", u, q, used, quota)
	}
	if err := s2.Set("a", "4", []byte("v"), 0); !errors.Is(err, ErrQuota) {
		t.Fatalf("write past the quota after reload: %v; want ErrQuota", err)
	}
	s2.Delete("a", "1")
	if err := s2.Set("a", "4", []byte("v"), 0); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	if u := usageOf(s2, "b"); u == 0 {
		t.Fatal("namespace b lost")
	}
}
