package sluicetest

import (
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// The emulated resolver (ABI §4.9) answers only what the test set with
// SetDNS and SetDNSTemporary; every other name is NOT_FOUND. Like the key/
// value store, it is always granted. Names are compared case-insensitively
// and without a trailing dot.

// dnsTypes are the record types dns_lookup accepts; any other traps.
var dnsTypes = map[string]bool{"A": true, "AAAA": true, "TXT": true, "MX": true, "PTR": true, "NS": true, "CNAME": true}

// maxDNSName is the longest name dns_lookup accepts (RFC 1035 §2.3.4).
const maxDNSName = 255

// dnsKey is the resolver map key of a name.
func dnsKey(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// SetDNS sets the records of type qtype for name. With no records the
// name has no record of that type (NOT_FOUND), as if never set.
func (s *Session) SetDNS(qtype, name string, records ...string) {
	k := dnsKey(name)
	m := s.dns[k]
	if m == nil {
		m = map[string][]string{}
		s.dns[k] = m
	}
	qtype = strings.ToUpper(qtype)
	if len(records) == 0 {
		delete(m, qtype)
		return
	}
	m[qtype] = append([]string(nil), records...)
	delete(s.dnsTemp, k)
}

// SetDNSTemporary makes every lookup of name fail with ErrTemporary.
func (s *Session) SetDNSTemporary(name string) { s.dnsTemp[dnsKey(name)] = true }

func (h *host) DNSLookup(qtype, name string) ([]string, error) {
	s := h.enter("dns_lookup")
	qt := strings.ToUpper(qtype)
	if !dnsTypes[qt] {
		trapf("dns_lookup: unsupported record type %q", qtype)
	}
	if len(name) > maxDNSName {
		trapf("dns_lookup: name of %d bytes is above the limit of %d", len(name), maxDNSName)
	}
	k := dnsKey(name)
	if s.dnsTemp[k] {
		return nil, sluice.ErrTemporary
	}
	recs := s.dns[k][qt]
	if len(recs) == 0 {
		return nil, sluice.ErrNotFound
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = strings.ReplaceAll(r, "\n", " ")
	}
	return out, nil
}
