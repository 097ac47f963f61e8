package policy

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// prefixes decodes a list of networks in CIDR notation ("127.0.0.1/32",
// "::1/128"); a bare address stands for itself alone. Each is normalized to
// its network ("10.1.2.3/8" becomes "10.0.0.0/8"), which a warning points
// out, since it usually means a typo that widens the list.
func (d *decoder) prefixes(attr *hcl.Attribute, dst *[]netip.Prefix) {
	var list []string
	d.stringList(attr, &list)
	if list == nil {
		return
	}
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			d.errorf(attr.Range, "Invalid network",
				"%s[%d] is %q, not a network in CIDR notation (for example \"127.0.0.1/32\" or \"::1/128\").", attr.Name, i, s)
			continue
		}
		if m := p.Masked(); m != p {
			d.warnf(attr.Range, "Network has host bits set",
				"%s[%d] is %q, which is taken as the whole network %s.", attr.Name, i, s, m)
			p = m
		}
		out = append(out, p)
	}
	*dst = out
}

// parsePrefix reads "addr/bits" or a bare address (a single host). Zones
// are refused: a zone is not part of an address a client connects from.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			// ::ffff:a.b.c.d/n: the same network in IPv4 terms.
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, errBadPrefix
			}
			return netip.PrefixFrom(p.Addr().Unmap(), bits), nil
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errBadPrefix
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var errBadPrefix = errors.New("not a network")
