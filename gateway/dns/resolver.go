// Package dns is the resolver behind the plugins' "dns" capability
// (sdk/ABI.md §4.9). Resolver is what the host function calls; Client is the
// implementation that asks configured DNS servers directly (RFC 1035), with
// a small cache that respects record TTLs (RFC 1035 §3.2.1) and caches
// negative answers for a bounded time (RFC 2308).
package dns

import (
	"context"
	"errors"
)

// Errors a Resolver returns. Any other failure is reported as ErrTemporary.
var (
	// ErrNotFound means the name does not exist (NXDOMAIN) or has no
	// records of the asked type (NODATA, RFC 2308 §2.2).
	ErrNotFound = errors.New("dns: not found")
	// ErrTemporary means no answer could be had now: timeout, SERVFAIL,
	// REFUSED, a network error. Retrying later may succeed.
	ErrTemporary = errors.New("dns: temporary failure")
)

// Resolver looks up the records of one type for a name. qtype is one of A,
// AAAA, TXT, MX, PTR, NS, CNAME (case-insensitive). The answer is textual:
// addresses for A/AAAA, the strings of one record joined for TXT,
// "preference host" for MX, the target host name for PTR, NS and CNAME.
// Implementations are safe for concurrent use.
type Resolver interface {
	Lookup(ctx context.Context, qtype string, name string) ([]string, error)
}
