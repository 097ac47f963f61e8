// Package kv is the key/value store behind the plugins' "kv" capability
// (sdk/ABI.md §4.8). Keys live in namespaces, one per plugin, so plugins
// cannot read or overwrite each other's keys. Store is what a scale-out
// backend (a store shared by several gateways) would implement; Memory is
// the in-process implementation; Redis is the shared one (a Redis or
// Valkey server that several gateways use).
package kv

import (
	"errors"
	"time"
)

// ErrUnavailable wraps the error of a store that could not answer in time:
// a remote store that is down, unreachable or slow. The plugin gets
// TEMPORARY (sdk/ABI.md §4.8); retrying later may succeed.
var ErrUnavailable = errors.New("kv: store unavailable")

// Store is a namespaced key/value store with per-key expiry. A ttl of 0 (or
// less) means the key does not expire. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the value of key in ns, or false if it is absent or
	// expired. The returned slice is the caller's. Every method's error
	// other than ErrQuota means the store could not answer (a remote
	// store that is down or slow: ErrUnavailable); nothing is known then.
	Get(ns, key string) ([]byte, bool, error)
	// Set stores a copy of val under key in ns, replacing any value and
	// expiry, or returns ErrQuota, changing nothing, when that would take
	// ns past its quota.
	Set(ns, key string, val []byte, ttl time.Duration) error
	// Incr atomically adds delta to the decimal integer stored under key
	// and returns the new value. An absent or expired key is created at 0
	// with the given ttl; an existing key keeps its expiry. A value that is
	// not a decimal integer counts as 0. Creating the key may fail with
	// ErrQuota; incrementing an existing key does not.
	Incr(ns, key string, delta int64, ttl time.Duration) (int64, error)
	// Delete removes key from ns and reports whether it was present (and
	// not expired).
	Delete(ns, key string) (bool, error)
	// SetQuota sets how many bytes the keys of ns may take; 0 means no
	// quota. Eviction, if a store evicts at all, stays within the
	// namespace that writes.
	SetQuota(ns string, bytes int64)
}
