package wasmhost

import (
	"errors"
	"strings"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
)

// The DNS lookup function (sdk/ABI.md §4.9), imported only with the "dns"
// grant. The lookup runs under the hook call's context, so the hook's
// deadline bounds it.

// tempError is the TEMPERROR result (sdk/ABI.md §4) as a stack value.
var tempError = api.EncodeI32(abi.ErrTemporary)

// maxDNSName is the longest name dns_lookup accepts (RFC 1035 §2.3.4).
const maxDNSName = 255

// hostDNSLookup implements dns_lookup(qtype_ptr, qtype_len, name_ptr,
// name_len, buf, cap) -> len | NOT_FOUND | TEMPERROR.
func hostDNSLookup(cs *callState, s []uint64) {
	qtype := string(cs.read(s[0], s[1], "qtype"))
	if !dns.ValidType(qtype) {
		cs.fail("unsupported record type %q", qtype)
	}
	name := string(cs.read(s[2], s[3], "name"))
	if len(name) > maxDNSName {
		cs.fail("name of %d bytes is above the limit of %d", len(name), maxDNSName)
	}
	recs, err := cs.p.dns.Lookup(cs.ctx, qtype, name)
	switch {
	case err == nil:
	case errors.Is(err, dns.ErrNotFound):
		s[0] = notFound
		return
	default:
		cs.p.log.Debug("dns lookup failed", "type", qtype, "name", name, "error", err.Error())
		s[0] = tempError
		return
	}
	if len(recs) == 0 {
		s[0] = notFound
		return
	}
	for i, r := range recs {
		recs[i] = strings.ReplaceAll(r, "\n", " ")
	}
	s[0] = cs.out(s[4], s[5], strings.Join(recs, "\n"))
}
