package wasmhost

import (
	"errors"
	"math"
	"time"

	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// The key/value store functions (sdk/ABI.md §4.8), imported only with the
// "kv" grant. The namespace is the plugin's name. Writes go straight to the
// store and are not rolled back on a plugin error: the store is outside
// the transaction. A write past the namespace's quota (Spec.KVQuota)
// returns QUOTA, not a trap: a full store is the plugin's to handle. A
// store that cannot answer (a shared Redis that is down or slow,
// kv.ErrUnavailable) returns TEMPORARY from every kv function: the store
// bounds each call by its own timeout, well within the hook's deadline.

// kvKey reads a key argument: 1 to abi.KVMaxKey arbitrary bytes.
func (cs *callState) kvKey(ptr, n uint64) string {
	k := cs.read(ptr, n, "key")
	if len(k) == 0 || len(k) > abi.KVMaxKey {
		cs.fail("key length %d is outside 1-%d bytes", len(k), abi.KVMaxKey)
	}
	return string(k)
}

// kvTTL decodes a ttl_ms argument: non-negative milliseconds, 0 = forever.
func (cs *callState) kvTTL(v uint64) time.Duration {
	ms := api.DecodeI32(v)
	if ms < 0 {
		cs.fail("negative ttl_ms %d", ms)
	}
	return time.Duration(ms) * time.Millisecond
}

// hostKVGet implements kv_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND
// | TEMPORARY.
func hostKVGet(cs *callState, s []uint64) {
	k := cs.kvKey(s[0], s[1])
	v, ok, err := cs.p.kv.Get(cs.p.name, k)
	if err != nil {
		s[0] = cs.kvResult(err)
		return
	}
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = cs.outBytes(s[2], s[3], v)
}

// kvResult is the ABI result of a store error: QUOTA for ErrQuota,
// TEMPORARY for any other (the store could not answer now).
func (cs *callState) kvResult(err error) uint64 {
	if errors.Is(err, kv.ErrQuota) {
		return api.EncodeI32(abi.ErrQuota)
	}
	return api.EncodeI32(abi.ErrTemporary)
}

// hostKVSet implements kv_set(key_ptr, key_len, val_ptr, val_len, ttl_ms) ->
// 0 | QUOTA | TEMPORARY.
func hostKVSet(cs *callState, s []uint64) {
	k := cs.kvKey(s[0], s[1])
	v := cs.read(s[2], s[3], "value")
	if len(v) > abi.KVMaxValue {
		cs.fail("value of %d bytes is above the limit of %d", len(v), abi.KVMaxValue)
	}
	ttl := cs.kvTTL(s[4])
	if err := cs.p.kv.Set(cs.p.name, k, v, ttl); err != nil { // the store copies v
		s[0] = cs.kvResult(err)
		return
	}
	s[0] = 0
}

// hostKVIncr implements kv_incr(key_ptr, key_len, delta, ttl_ms) -> new
// value, saturated to the i32 range, or QUOTA when creating the key would
// take the namespace past its quota, or TEMPORARY.
func hostKVIncr(cs *callState, s []uint64) {
	k := cs.kvKey(s[0], s[1])
	delta := api.DecodeI32(s[2])
	ttl := cs.kvTTL(s[3])
	n, err := cs.p.kv.Incr(cs.p.name, k, int64(delta), ttl)
	if err != nil {
		s[0] = cs.kvResult(err)
		return
	}
	s[0] = api.EncodeI32(int32(max(math.MinInt32, min(math.MaxInt32, n))))
}

// hostKVDelete implements kv_delete(key_ptr, key_len) -> 0 | NOT_FOUND |
// TEMPORARY.
func hostKVDelete(cs *callState, s []uint64) {
	k := cs.kvKey(s[0], s[1])
	ok, err := cs.p.kv.Delete(cs.p.name, k)
	if err != nil {
		s[0] = cs.kvResult(err)
		return
	}
	if !ok {
		s[0] = notFound
		return
	}
	s[0] = 0
}
