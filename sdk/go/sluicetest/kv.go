package sluicetest

import (
	"time"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// kvEpoch is where the emulated clock starts.
var kvEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The store is the gateway's own (kv.Memory) behind the gateway's plugin
// contract (gateway/contract), with the plugin's name as its namespace: it
// is granted unless the test revokes "kv" (grants.go), usable in every
// phase, and outside the transaction, so a failed hook does not undo its
// writes. Expiry follows the session's fake clock, which only moves when
// the test calls Advance or SetClock.

// Advance moves the key/value store's clock forward by d.
func (s *Session) Advance(d time.Duration) { s.clock = s.clock.Add(d) }

// SetClock sets the key/value store's clock; it starts at 2026-01-01 UTC.
func (s *Session) SetClock(t time.Time) { s.clock = t }

// newKV returns the session's store: no background sweeper, the fake
// clock.
func (s *Session) newKV() *kv.Memory {
	return kv.NewMemory(kv.MemoryOptions{SweepInterval: -1, Now: func() time.Time { return s.clock }})
}

// KV returns a key of the plugin's key/value store as the plugin would
// see it now, for assertions.
func (s *Session) KV(key string) ([]byte, bool) {
	v, ok, _ := s.kv.Get(s.pluginName, key)
	return v, ok
}

// SetKVDown makes every KV call fail with sluice.ErrTemporary while down
// is true, as a shared store that is down does (sdk/ABI.md §4.8).
func (s *Session) SetKVDown(down bool) { s.kvDown = down }

// kvErr is the SDK's error for what the contract returned: a trap for
// misuse, sluice.ErrTemporary for a store that cannot answer.
func kvErr(err error) error {
	if contract.Unavailable(err) {
		return sluice.ErrTemporary
	}
	check(err)
	return nil
}

// SetKV stores a key as KVSet would, to prepare a test (the quota is not
// checked).
func (s *Session) SetKV(key string, val []byte, ttl time.Duration) {
	s.kv.SetQuota(s.pluginName, 0) // none
	defer s.kv.SetQuota(s.pluginName, s.kvQuota)
	if err := s.kv.Set(s.pluginName, key, val, time.Duration(sluice.TTLMillis(ttl))*time.Millisecond); err != nil {
		panic("sluicetest: SetKV: " + err.Error())
	}
}

// SetKVQuota sets the plugin's key/value quota in bytes, as kv_quota in
// its policy block would (default abi.KVDefaultQuota, 64 MiB): a write
// that would take the store past it fails with sluice.ErrQuota.
func (s *Session) SetKVQuota(bytes int64) {
	s.kvQuota = bytes
	s.kv.SetQuota(s.pluginName, bytes)
}

// KVUsage returns the bytes the plugin's keys count against its quota:
// per key abi.KVEntryOverhead + its length + its value's length (at least
// abi.KVMinValueCost), expired keys not yet removed included.
func (s *Session) KVUsage() int64 {
	used, _ := s.kv.Usage(s.pluginName)
	return used
}

func (h *host) KVGet(key string) ([]byte, bool, error) {
	h.needGrant(abi.FnKVGet, sluice.GrantKV)
	v, ok, err := h.c.KVGet([]byte(key))
	if err == nil && h.s.kvDown {
		err = kv.ErrUnavailable
	}
	if err := kvErr(err); err != nil {
		return nil, false, err
	}
	return v, ok, nil
}

// errQuota is the SDK's error for a full namespace.
func errQuota(full bool) error {
	if full {
		return sluice.ErrQuota
	}
	return nil
}

func (h *host) KVSet(key string, val []byte, ttl time.Duration) error {
	h.needGrant(abi.FnKVSet, sluice.GrantKV)
	if h.s.kvDown {
		h.c.KVGet([]byte(key)) // argument checks only
		return sluice.ErrTemporary
	}
	full, err := h.c.KVSet([]byte(key), val, sluice.TTLMillis(ttl))
	if err := kvErr(err); err != nil {
		return err
	}
	return errQuota(full)
}

func (h *host) KVIncr(key string, delta int32, ttl time.Duration) (int32, error) {
	h.needGrant(abi.FnKVIncr, sluice.GrantKV)
	if h.s.kvDown {
		h.c.KVGet([]byte(key)) // argument checks only
		return 0, sluice.ErrTemporary
	}
	n, full, err := h.c.KVIncr([]byte(key), delta, sluice.TTLMillis(ttl))
	if err := kvErr(err); err != nil {
		return 0, err
	}
	return n, errQuota(full)
}

func (h *host) KVDelete(key string) (bool, error) {
	h.needGrant(abi.FnKVDelete, sluice.GrantKV)
	if h.s.kvDown {
		h.c.KVGet([]byte(key)) // argument checks only
		return false, sluice.ErrTemporary
	}
	ok, err := h.c.KVDelete([]byte(key))
	if err := kvErr(err); err != nil {
		return false, err
	}
	return ok, nil
}
