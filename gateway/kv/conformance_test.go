package kv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/redistest"
	"github.com/sluice-mail/sluice/gateway/kv"
)

// The kv conformance tests run against every backend: the in-process
// store and Redis (a private redis-server, one for this package).

var (
	redisOnce sync.Once
	redisSrv  *redistest.Server
)

// sharedRedis starts the package's redis-server on first use; it lives
// until the test binary exits (the first test's cleanup would stop it
// too early, so it is started from a detached testing.TB).
func sharedRedis(t testing.TB) *redistest.Server {
	redisOnce.Do(func() { redisSrv = redistest.Start(&keepAlive{t}) })
	if redisSrv == nil {
		t.Fatal("redis-server did not start")
	}
	return redisSrv
}

// keepAlive is a testing.TB whose cleanups never run: the package's
// redis-server is killed by TestMain.
type keepAlive struct{ testing.TB }

func (k *keepAlive) Cleanup(func()) {}
func (k *keepAlive) TempDir() string {
	d, err := os.MkdirTemp("", "redistest")
	if err != nil {
		k.TB.Fatal(err)
	}
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	if redisSrv != nil {
		redisSrv.Kill()
		os.RemoveAll(redisSrv.Dir)
	}
	os.Exit(code)
}

type backend struct {
	name string
	open func(t *testing.T) kv.Store
}

var nsSeq sync.Mutex
var nsN int

// freshNS returns a namespace no other test uses (the Redis is shared).
func freshNS(base string) string {
	nsSeq.Lock()
	defer nsSeq.Unlock()
	nsN++
	return fmt.Sprintf("%s%d", base, nsN)
}

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T) kv.Store {
			m := kv.NewMemory(kv.MemoryOptions{})
			t.Cleanup(func() { m.Close() })
			return m
		}},
		{"redis", func(t *testing.T) kv.Store {
			return openRedis(t, kv.RedisOptions{URL: sharedRedis(t).URL})
		}},
	}
}

func openRedis(t *testing.T, o kv.RedisOptions) *kv.Redis {
	t.Helper()
	r, err := kv.NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func forEach(t *testing.T, f func(t *testing.T, s kv.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestConformanceGetSetDelete(t *testing.T) {
	forEach(t, func(t *testing.T, s kv.Store) {
		ns := freshNS("p")
		if _, ok, err := s.Get(ns, "k"); ok || err != nil {
			t.Fatalf("empty store: ok=%v err=%v", ok, err)
		}
		bin := []byte("v\x00\xff\r\n")
		if err := s.Set(ns, "k", bin, 0); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := s.Get(ns, "k"); !ok || err != nil || string(v) != string(bin) {
			t.Fatalf("Get = %q %v %v", v, ok, err)
		}
		if v, _, _ := s.Get(freshNS("other"), "k"); v != nil {
			t.Fatal("namespaces are not separate")
		}
		if ok, err := s.Delete(ns, "k"); !ok || err != nil {
			t.Fatalf("Delete = %v %v", ok, err)
		}
		if ok, err := s.Delete(ns, "k"); ok || err != nil {
			t.Fatalf("second Delete = %v %v", ok, err)
		}
	})
}

func TestConformanceTTL(t *testing.T) {
	forEach(t, func(t *testing.T, s kv.Store) {
		ns := freshNS("ttl")
		if err := s.Set(ns, "short", []byte("x"), 150*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ns, "forever", []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ns, "ctr", 1, 150*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the short key to expire", func() bool { _, ok, _ := s.Get(ns, "short"); return !ok })
		waitFor(t, "the counter to expire", func() bool { _, ok, _ := s.Get(ns, "ctr"); return !ok })
		if _, ok, _ := s.Get(ns, "forever"); !ok {
			t.Fatal("a key without ttl expired")
		}
	})
}

func TestConformanceIncr(t *testing.T) {
	forEach(t, func(t *testing.T, s kv.Store) {
		ns := freshNS("incr")
		if n, err := s.Incr(ns, "n", 5, 0); n != 5 || err != nil {
			t.Fatalf("Incr = %d %v", n, err)
		}
		if n, _ := s.Incr(ns, "n", -7, 0); n != -2 {
			t.Fatalf("Incr = %d", n)
		}
		s.Set(ns, "text", []byte("not a number"), 0)
		if n, _ := s.Incr(ns, "text", 3, 0); n != 3 {
			t.Fatalf("Incr of a non-number = %d, want 3", n)
		}
		s.Set(ns, "big", []byte("9223372036854775800"), 0)
		if n, _ := s.Incr(ns, "big", 100, 0); n != 1<<63-1 {
			t.Fatalf("Incr does not saturate: %d", n)
		}
		// An existing key keeps its expiry: Incr's ttl applies on creation.
		s.Incr(ns, "keep", 1, 200*time.Millisecond)
		s.Incr(ns, "keep", 1, 0)
		waitFor(t, "the counter to expire", func() bool { _, ok, _ := s.Get(ns, "keep"); return !ok })

		const workers, each = 8, 50
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					if _, err := s.Incr(ns, "ctr", 1, time.Minute); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if v, _, _ := s.Get(ns, "ctr"); string(v) != fmt.Sprint(workers*each) {
			t.Fatalf("concurrent Incr = %s, want %d", v, workers*each)
		}
	})
}

func TestConformanceQuota(t *testing.T) {
	forEach(t, func(t *testing.T, s kv.Store) {
		ns := freshNS("q")
		val := strings.Repeat("v", 1000)
		per := int64(kv.EntryOverhead + 2 + 1000)
		s.SetQuota(ns, 10*per)
		n := 0
		for i := range 20 {
			err := s.Set(ns, fmt.Sprintf("%02d", i), []byte(val), 0)
			if errors.Is(err, kv.ErrQuota) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 10 {
			t.Fatalf("%d keys fit, want 10", n)
		}
		if _, err := s.Incr(ns, "new", 1, 0); !errors.Is(err, kv.ErrQuota) {
			t.Fatalf("Incr of a new key past the quota: %v", err)
		}
		// Replacing a value with one of the same size still fits; a
		// delete makes room.
		if err := s.Set(ns, "00", []byte(val), 0); err != nil {
			t.Fatal(err)
		}
		s.Delete(ns, "00")
		if err := s.Set(ns, "xx", []byte(val), 0); err != nil {
			t.Fatalf("after a delete: %v", err)
		}
		// Another namespace is not affected.
		if err := s.Set(freshNS("q"), "k", []byte(val), 0); err != nil {
			t.Fatal(err)
		}
	})
}

// Keys that expire leave the Redis usage counter high; a write the
// counter refuses recounts the namespace and goes through.
func TestRedisQuotaRecountsExpiredKeys(t *testing.T) {
	r := openRedis(t, kv.RedisOptions{URL: sharedRedis(t).URL})
	ns := freshNS("recount")
	val := []byte(strings.Repeat("v", 1000))
	r.SetQuota(ns, 3*int64(kv.EntryOverhead+2+1000))
	for i := range 3 {
		if err := r.Set(ns, fmt.Sprintf("%02d", i), val, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the keys to expire", func() bool {
		for i := range 3 {
			if _, ok, _ := r.Get(ns, fmt.Sprintf("%02d", i)); ok {
				return false
			}
		}
		return true
	})
	if err := r.Set(ns, "zz", val, 0); err != nil {
		t.Fatalf("after the keys expired: %v", err)
	}
	if used, _, _ := r.Usage(ns); used != int64(kv.EntryOverhead+2+1000) {
		t.Fatalf("usage after recount = %d", used)
	}
}

// The keys are Prefix + namespace + ":" + key, so that operators can find
// and size them, and two prefixes do not see each other.
func TestRedisKeyLayout(t *testing.T) {
	srv := sharedRedis(t)
	r := openRedis(t, kv.RedisOptions{URL: srv.URL, Prefix: "site1:"})
	if err := r.Set("greylist", "triplet", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.Do("EXISTS", "site1:greylist:triplet"); err != nil || got != ":1" {
		t.Fatalf("EXISTS = %q %v", got, err)
	}
	if got, _ := srv.Do("PTTL", "site1:greylist:triplet"); got == ":-1" || got == ":-2" {
		t.Fatalf("PTTL = %s: no expiry in ms", got)
	}
	other := openRedis(t, kv.RedisOptions{URL: srv.URL})
	if _, ok, _ := other.Get("greylist", "triplet"); ok {
		t.Fatal("another prefix sees the key")
	}
}

// A server that is killed: calls return ErrUnavailable within the
// timeout, the store reports it, and it recovers on its own when the
// server comes back.
func TestRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	var mu sync.Mutex
	kinds := map[string]int{}
	r := openRedis(t, kv.RedisOptions{URL: srv.URL, Timeout: 200 * time.Millisecond, Probe: 50 * time.Millisecond,
		Observe: func(op string, d time.Duration, kind string) { mu.Lock(); kinds[kind]++; mu.Unlock() }})
	if err := r.Set("p", "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for i := range 5 {
		start := time.Now()
		_, _, err := r.Get("p", "k")
		if !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("call %d with the server down: %v", i, err)
		}
		if d := time.Since(start); d > 2*time.Second+200*time.Millisecond {
			t.Fatalf("call %d took %v", i, d)
		}
		if _, err := r.Incr("p", "n", 1, 0); !errors.Is(err, kv.ErrUnavailable) {
			t.Fatalf("Incr with the server down: %v", err)
		}
	}
	if r.Err() == nil {
		t.Fatal("store does not report that it is down")
	}
	mu.Lock()
	if kinds["network"]+kinds["timeout"] == 0 || kinds["unavailable"] == 0 {
		t.Errorf("error kinds observed: %v", kinds)
	}
	mu.Unlock()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the store to come back", func() bool { return r.Err() == nil })
	if err := r.Set("p", "k2", []byte("v"), 0); err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
}

// A server that accepts connections but never answers (a hung Redis):
// calls still end within the timeout.
func TestRedisSlowServer(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, kv.RedisOptions{URL: srv.URL, Timeout: 200 * time.Millisecond, Probe: time.Hour})
	if _, err := srv.Do("CLIENT", "PAUSE", "3000", "ALL"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err := r.Get("p", "k")
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("Get from a paused server: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Get took %v", d)
	}
}

func TestRedisCredentials(t *testing.T) {
	srv := sharedRedis(t)
	if _, err := kv.NewRedis(kv.RedisOptions{URL: "redis://:secret@" + srv.Addr}); err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Fatalf("password in the URL: %v", err)
	}
	if _, err := srv.Do("ACL", "SETUSER", "sluice", "on", ">s3cret pass", "~*", "+@all"); err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pf, []byte("sluice s3cret pass\n"), 0o600)
	r := openRedis(t, kv.RedisOptions{URL: srv.URL, PasswordFile: pf})
	if err := r.Set("p", "k", []byte("v"), 0); err != nil {
		t.Fatalf("with ACL user: %v", err)
	}
	os.WriteFile(pf, []byte("sluice wrong\n"), 0o600)
	bad := openRedis(t, kv.RedisOptions{URL: srv.URL, PasswordFile: pf})
	if err := bad.Set("p", "k", []byte("v"), 0); !errors.Is(err, kv.ErrUnavailable) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := kv.NewRedis(kv.RedisOptions{URL: srv.URL, PasswordFile: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Fatal("missing password_file accepted")
	}
}
