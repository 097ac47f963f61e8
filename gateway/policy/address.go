package policy

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// validHostPort reports whether s is host:port with a numeric port and a
// host that is an IP address or a domain name. Only a listen address may
// leave the host empty (every local address) or use port 0 (a free port
// chosen by the kernel, which tests use).
func validHostPort(s string, listen bool) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (n == 0 && !listen) {
		return false
	}
	if host == "" {
		return listen
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return validDomain(host)
}

// validDomain reports whether s is a domain name as SMTP allows it
// (RFC 5321 §4.1.2: Domain = sub-domain *("." sub-domain), a sub-domain being
// letters, digits and inner hyphens), at most 253 octets with labels of at
// most 63 (RFC 1035 §2.3.4).
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validHeloName reports whether s may follow EHLO or appear in our greeting:
// a domain, or an address literal such as [192.0.2.1] or [IPv6:2001:db8::1]
// (RFC 5321 §4.1.3).
func validHeloName(s string) bool {
	if lit, ok := strings.CutPrefix(s, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		if !ok {
			return false
		}
		if v6, isV6 := strings.CutPrefix(lit, "IPv6:"); isV6 {
			a, err := netip.ParseAddr(v6)
			return err == nil && a.Is6() && a.Zone() == ""
		}
		a, err := netip.ParseAddr(lit)
		return err == nil && a.Is4()
	}
	return validDomain(s)
}
