package sluicetest

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// kvEntry is one key of the emulated key/value store (ABI §4.8).
type kvEntry struct {
	val     []byte
	expires time.Time // zero: never
}

// kvEpoch is where the emulated clock starts.
var kvEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The emulated store behaves like the gateway's for one plugin: it is
// granted unless the test revokes "kv" (grants.go), usable in every
// phase, and outside the transaction, so a failed hook does not undo its
// writes. Expiry follows the session's fake clock, which only moves when
// the test calls Advance or SetClock.

// Advance moves the key/value store's clock forward by d.
func (s *Session) Advance(d time.Duration) { s.clock = s.clock.Add(d) }

// SetClock sets the key/value store's clock; it starts at 2026-01-01 UTC.
func (s *Session) SetClock(t time.Time) { s.clock = t }

// KV returns a key of the plugin's key/value store as the plugin would
// see it now, for assertions.
func (s *Session) KV(key string) ([]byte, bool) {
	e := s.kvLive(key)
	if e == nil {
		return nil, false
	}
	return bytes.Clone(e.val), true
}

// SetKV stores a key as KVSet would, to prepare a test (the quota is not
// checked).
func (s *Session) SetKV(key string, val []byte, ttl time.Duration) {
	s.kvPut(key, bytes.Clone(val), ttl)
}

func (s *Session) kvLive(key string) *kvEntry {
	e, ok := s.kv[key]
	if !ok {
		return nil
	}
	if !e.expires.IsZero() && !s.clock.Before(e.expires) {
		delete(s.kv, key)
		return nil
	}
	return e
}

func (s *Session) kvPut(key string, val []byte, ttl time.Duration) {
	e := &kvEntry{val: val}
	if ms := sluice.TTLMillis(ttl); ms > 0 {
		e.expires = s.clock.Add(time.Duration(ms) * time.Millisecond)
	}
	s.kv[key] = e
}

func kvKey(fn, key string) {
	if len(key) == 0 || len(key) > abi.KVMaxKey {
		trapf("%s: key length %d is outside 1-%d bytes", fn, len(key), abi.KVMaxKey)
	}
}

// SetKVDown makes every KV call fail with sluice.ErrTemporary while down
// is true, as a shared store that is down does (ABI §4.8).
func (s *Session) SetKVDown(down bool) { s.kvDown = down }

func (h *host) KVGet(key string) ([]byte, bool, error) {
	s := h.enter("kv_get")
	h.needGrant("kv_get", sluice.GrantKV)
	kvKey("kv_get", key)
	if s.kvDown {
		return nil, false, sluice.ErrTemporary
	}
	v, ok := s.KV(key)
	return v, ok, nil
}

// SetKVQuota sets the plugin's key/value quota in bytes, as kv_quota in
// its policy block would (default abi.KVDefaultQuota, 64 MiB): a write
// that would take the store past it fails with sluice.ErrQuota.
func (s *Session) SetKVQuota(bytes int64) { s.kvQuota = bytes }

// KVUsage returns the bytes the plugin's keys count against its quota:
// per key abi.KVEntryOverhead + its length + its value's length (at least
// abi.KVMinValueCost), expired keys not yet removed included.
func (s *Session) KVUsage() int64 {
	var n int64
	for k, e := range s.kv {
		n += kvCost(k, e.val)
	}
	return n
}

func kvCost(key string, val []byte) int64 {
	return abi.KVEntryOverhead + int64(len(key)) + int64(max(len(val), abi.KVMinValueCost))
}

// kvFits reports whether growing the store by grow bytes stays within the
// quota, removing expired keys first when it would not.
func (s *Session) kvFits(grow int64) bool {
	if grow <= 0 || s.KVUsage()+grow <= s.kvQuota {
		return true
	}
	for k := range s.kv {
		s.kvLive(k) // removes it if expired
	}
	return s.KVUsage()+grow <= s.kvQuota
}

func (h *host) KVSet(key string, val []byte, ttl time.Duration) error {
	s := h.enter("kv_set")
	h.needGrant("kv_set", sluice.GrantKV)
	kvKey("kv_set", key)
	if len(val) > abi.KVMaxValue {
		trapf("kv_set: value of %d bytes is above the limit of %d", len(val), abi.KVMaxValue)
	}
	if s.kvDown {
		return sluice.ErrTemporary
	}
	grow := kvCost(key, val)
	if e := s.kvLive(key); e != nil {
		grow -= kvCost(key, e.val)
	}
	if !s.kvFits(grow) {
		return sluice.ErrQuota
	}
	s.kvPut(key, bytes.Clone(val), ttl)
	return nil
}

func (h *host) KVIncr(key string, delta int32, ttl time.Duration) (int32, error) {
	s := h.enter("kv_incr")
	h.needGrant("kv_incr", sluice.GrantKV)
	kvKey("kv_incr", key)
	if s.kvDown {
		return 0, sluice.ErrTemporary
	}
	e := s.kvLive(key)
	if e == nil {
		if !s.kvFits(kvCost(key, nil)) {
			return 0, sluice.ErrQuota
		}
		s.kvPut(key, nil, ttl)
		e = s.kv[key]
	}
	cur, _ := strconv.ParseInt(string(e.val), 10, 64)
	n := cur + int64(delta)
	switch { // the gateway's store saturates at the int64 range
	case delta > 0 && n < cur:
		n = math.MaxInt64
	case delta < 0 && n > cur:
		n = math.MinInt64
	}
	e.val = strconv.AppendInt(e.val[:0], n, 10)
	return int32(max(math.MinInt32, min(math.MaxInt32, n))), nil
}

func (h *host) KVDelete(key string) (bool, error) {
	s := h.enter("kv_delete")
	h.needGrant("kv_delete", sluice.GrantKV)
	kvKey("kv_delete", key)
	if s.kvDown {
		return false, sluice.ErrTemporary
	}
	if s.kvLive(key) == nil {
		return false, nil
	}
	delete(s.kv, key)
	return true, nil
}
