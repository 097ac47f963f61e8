package sluice

import "errors"

// Errors of the capability functions (sdk/ABI.md §4, §4.8, §4.9).
var (
	// ErrNotFound is the ABI's NOT_FOUND for DNSLookup: the name does not
	// exist, has no record of the type asked, or is not a valid domain name.
	ErrNotFound = errors.New("sluice: not found")
	// ErrTemporary is the ABI's TEMPERROR: the answer could not be had now
	// (a timeout, a server failure, a network error); retrying later may
	// succeed.
	ErrTemporary = errors.New("sluice: temporary failure")
	// ErrQuota is the ABI's QUOTA for KVSet and KVIncr: the write would
	// take the plugin's key/value namespace past its quota (kv_quota in the
	// policy); nothing was written. Keys free up as they expire or are
	// deleted.
	ErrQuota = errors.New("sluice: key/value quota exceeded")
)
