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
		got = append(got, h.KVIncr("rate", 1, time.Minute))
		return sluice.Continue
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
		if v, ok := h.KVGet("k"); !ok || string(v) != "v" {
			t.Errorf("KVGet = %q, %v", v, ok)
		}
		if h.KVDelete("nope") || !h.KVDelete("k") || h.KVDelete("k") {
			t.Error("KVDelete results wrong")
		}
		h.KVSet("k2", []byte("w"), 0)
		return sluice.Continue
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	// Writes survive a failed hook: the store is outside the transaction.
	r = s.Run(sluicetest.PhaseMail, func(h sluice.Host) sluice.Verdict {
		h.KVSet("k3", []byte("x"), 0)
		h.KVGet("")
		return sluice.Continue
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
		return sluice.Continue
	})
	if r.Err == nil || !strings.Contains(r.Err.Error(), "above the limit") {
		t.Fatalf("big value: Err = %v", r.Err)
	}
}
