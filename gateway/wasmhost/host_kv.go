package wasmhost

import (
	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// The key/value store functions (sdk/ABI.md §4.8), imported only with the
// "kv" grant: thin adapters of contract.Call (gateway/contract/kv.go). A
// write past the namespace's quota (Spec.KVQuota) returns QUOTA, not a
// trap: a full store is the plugin's to handle. A store that cannot answer
// (a shared Redis that is down or slow, kv.ErrUnavailable) returns
// TEMPERROR from every kv function: the store bounds each call by its own
// timeout, well within the hook's deadline.

// quotaOr is the result of a write: QUOTA when the namespace is full, else v.
func (cs *callState) quotaOr(v uint64, full bool, err error) uint64 {
	if contract.Unavailable(err) {
		return api.EncodeI32(abi.ErrTemporary)
	}
	cs.check(err)
	if full {
		return api.EncodeI32(abi.ErrQuota)
	}
	return v
}

// hostKVGet implements kv_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND.
func hostKVGet(cs *callState, s []uint64) {
	v, ok, err := cs.c.KVGet(cs.read(s[0], s[1], "key"))
	if contract.Unavailable(err) {
		s[0] = api.EncodeI32(abi.ErrTemporary)
		return
	}
	cs.check(err)
	s[0] = notFound
	if ok {
		s[0] = cs.outBytes(s[2], s[3], v)
	}
}

// hostKVSet implements kv_set(key_ptr, key_len, val_ptr, val_len, ttl_ms) ->
// 0 | QUOTA.
func hostKVSet(cs *callState, s []uint64) {
	full, err := cs.c.KVSet(cs.read(s[0], s[1], "key"), cs.read(s[2], s[3], "value"), api.DecodeI32(s[4]))
	s[0] = cs.quotaOr(0, full, err)
}

// hostKVIncr implements kv_incr(key_ptr, key_len, delta, ttl_ms) -> new
// value, saturated to the i32 range, or QUOTA when creating the key would
// take the namespace past its quota.
func hostKVIncr(cs *callState, s []uint64) {
	n, full, err := cs.c.KVIncr(cs.read(s[0], s[1], "key"), api.DecodeI32(s[2]), api.DecodeI32(s[3]))
	s[0] = cs.quotaOr(api.EncodeI32(n), full, err)
}

// hostKVDelete implements kv_delete(key_ptr, key_len) -> 0 | NOT_FOUND.
func hostKVDelete(cs *callState, s []uint64) {
	ok, err := cs.c.KVDelete(cs.read(s[0], s[1], "key"))
	if contract.Unavailable(err) {
		s[0] = api.EncodeI32(abi.ErrTemporary)
		return
	}
	s[0] = cs.status(ok, err)
}
