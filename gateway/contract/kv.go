package contract

import (
	"errors"
	"math"
	"time"

	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// The key/value functions of sdk/ABI.md §4.8 (grant "kv") over the
// plugin's namespace of Plugin.KV, named after the plugin. Writes go
// straight to the store and are not rolled back: the store is outside the
// transaction. A write past the namespace's quota is not misuse: it
// reports quota, and the plugin handles a full store.

// kvKey checks a key: 1 to abi.KVMaxKey arbitrary bytes.
func kvKey(fn string, k []byte) *Misuse {
	if len(k) == 0 || len(k) > abi.KVMaxKey {
		return misuse(fn, "key length %d is outside 1-%d bytes", len(k), abi.KVMaxKey)
	}
	return nil
}

// kvTTL decodes a ttl_ms argument: non-negative milliseconds, 0 = forever.
func kvTTL(fn string, ms int32) (time.Duration, *Misuse) {
	if ms < 0 {
		return 0, misuse(fn, "negative ttl_ms %d", ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// quota tells a full namespace (quota true) from a store that cannot
// answer now (a shared Redis that is down or slow): that error is returned
// as it is, not as misuse, and the host reports TEMPERROR (sdk/ABI.md §4.8).
func quota(err error) (bool, error) {
	if err == nil {
		return false, nil
	}
	if errors.Is(err, kv.ErrQuota) {
		return true, nil
	}
	return false, err
}

// Unavailable reports whether err, from a key/value function, is a store
// that cannot answer now rather than misuse.
func Unavailable(err error) bool {
	_, misused := err.(*Misuse)
	return err != nil && !misused
}

// KVGet returns the value of key; the slice is the caller's.
func (c *Call) KVGet(key []byte) (v []byte, found bool, err error) {
	if m := kvKey(abi.FnKVGet, key); m != nil {
		return nil, false, m
	}
	return c.p.KV.Get(c.p.Name, string(key))
}

// KVSet stores a copy of val under key for ttlMS milliseconds (0: no
// expiry); full is true, and nothing was written, when that would take the
// namespace past its quota.
func (c *Call) KVSet(key, val []byte, ttlMS int32) (full bool, err error) {
	const fn = abi.FnKVSet
	if m := kvKey(fn, key); m != nil {
		return false, m
	}
	if len(val) > abi.KVMaxValue {
		return false, misuse(fn, "value of %d bytes is above the limit of %d", len(val), abi.KVMaxValue)
	}
	ttl, m := kvTTL(fn, ttlMS)
	if m != nil {
		return false, m
	}
	return quota(c.p.KV.Set(c.p.Name, string(key), val, ttl))
}

// KVIncr adds delta to the counter under key and returns the new value,
// saturated to the int32 range; full is true when creating the key would
// take the namespace past its quota.
func (c *Call) KVIncr(key []byte, delta, ttlMS int32) (n int32, full bool, err error) {
	const fn = abi.FnKVIncr
	if m := kvKey(fn, key); m != nil {
		return 0, false, m
	}
	ttl, m := kvTTL(fn, ttlMS)
	if m != nil {
		return 0, false, m
	}
	v, err := c.p.KV.Incr(c.p.Name, string(key), int64(delta), ttl)
	if full, err := quota(err); full || err != nil {
		return 0, full, err
	}
	return int32(max(math.MinInt32, min(math.MaxInt32, v))), false, nil
}

// KVDelete removes key and reports whether it was there.
func (c *Call) KVDelete(key []byte) (found bool, err error) {
	if m := kvKey(abi.FnKVDelete, key); m != nil {
		return false, m
	}
	return c.p.KV.Delete(c.p.Name, string(key))
}
