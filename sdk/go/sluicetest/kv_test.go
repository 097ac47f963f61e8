package sluicetest_test

import (
	"strings"
	"testing"
	"time"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func TestKVEmulation(t *testing.T) {
	s := sluicetest.New()
	var got []int32
	incr := func(h sluice.Host) sluice.Verdict {
		n, err := h.KVIncr("rate", 1, time.Minute)
		if err != nil {
			t.Error(err)
		}
		got = append(got, n)
		return sluice.VerdictContinue
	}
	for range 3 {
		if r := s.Run(sluicetest.PhaseConnect, incr); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	s.Advance(59 * time.Second)
	s.Run(sluicetest.PhaseConnect, incr)
	s.Advance(time.Second) // the window opened by the first KVIncr ends
	s.Run(sluicetest.PhaseConnect, incr)
	if want := []int32{1, 2, 3, 4, 1}; len(got) != len(want) || got[3] != 4 || got[4] != 1 {
		t.Fatalf("KVIncr results = %v, want %v", got, want)
	}

	r := s.Run(sluicetest.PhaseConfigure, func(h sluice.Host) sluice.Verdict {
		h.KVSet("k", []byte("v"), time.Second)
		if v, ok, _ := h.KVGet("k"); !ok || string(v) != "v" {
			t.Errorf("KVGet = %q, %v", v, ok)
		}
		del := func(k string) bool { ok, err := h.KVDelete(k); return ok && err == nil }
		if del("nope") || !del("k") || del("k") {
			t.Error("KVDelete results wrong")
		}
		h.KVSet("k2", []byte("w"), 0)
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	// Writes survive a failed hook: the store is outside the transaction.
	r = s.Run(sluicetest.PhaseMail, func(h sluice.Host) sluice.Verdict {
		h.KVSet("k3", []byte("x"), 0)
		h.KVGet("")
		return sluice.VerdictContinue
	})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "key length 0") {
		t.Fatalf("empty key: Err = %v", r.Err)
	}
	if v, ok := s.KV("k3"); !ok || string(v) != "x" {
		t.Errorf("k3 = %q, %v after a failed hook; want kept", v, ok)
	}
	s.Advance(1000 * time.Hour)
	if _, ok := s.KV("k2"); !ok {
		t.Error("a key without TTL expired")
	}
	r = s.Run(sluicetest.PhaseMail, func(h sluice.Host) sluice.Verdict {
		h.KVSet("k", make([]byte, 64<<10+1), 0)
		return sluice.VerdictContinue
	})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "above the limit") {
		t.Fatalf("big value: Err = %v", r.Err)
	}
}

// TestKVQuotaEmulation: writes past SetKVQuota fail with sluice.ErrQuota,
// as the gateway's store does (ABI §4.8); nothing is written.
func TestKVQuotaEmulation(t *testing.T) {
	s := sluicetest.New()
	s.SetKVQuota(2 * (128 + 1 + 100))
	r := s.Run(sluicetest.PhaseConnect, func(h sluice.Host) sluice.Verdict {
		val := []byte(strings.Repeat("v", 100))
		for _, k := range []string{"a", "b"} {
			if err := h.KVSet(k, val, 0); err != nil {
				t.Errorf("KVSet %s: %v", k, err)
			}
		}
		if err := h.KVSet("c", val, 0); err != sluice.ErrQuota {
			t.Errorf("KVSet past the quota = %v, want ErrQuota", err)
		}
		if _, err := h.KVIncr("n", 1, 0); err != sluice.ErrQuota {
			t.Errorf("KVIncr creating past the quota = %v, want ErrQuota", err)
		}
		if n, err := h.KVIncr("a", 1, 0); n != 1 || err != nil {
			t.Errorf("KVIncr of an existing key = %d, %v", n, err)
		}
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, ok := s.KV("c"); ok {
		t.Error("a refused key was stored")
	}
	if u := s.KVUsage(); u > 2*(128+1+100) {
		t.Errorf("usage %d above the quota", u)
	}
}
