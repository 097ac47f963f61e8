package dkimsign

import (
	"errors"
	"strings"
)

// validDomain checks an SDID (the d= tag): domain-name = sub-domain
// 1*("." sub-domain), RFC 6376 §3.5 citing RFC 5321 §4.1.2, in ASCII
// (A-labels for internationalized names), at most 253 bytes.
func validDomain(d string) error {
	if d == "" {
		return errors.New("domain is empty")
	}
	if len(d) > 253 {
		return errors.New("domain is longer than 253 bytes")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return errors.New("domain needs at least two labels")
	}
	return validLabels(labels)
}

// validSelector checks a selector (the s= tag): selector = sub-domain *("."
// sub-domain), RFC 6376 §3.1, and that SELECTOR._domainkey.DOMAIN is a
// usable DNS name (at most 253 bytes, RFC 1035 §2.3.4).
func validSelector(s, domain string) error {
	if s == "" {
		return errors.New("selector is empty")
	}
	if len(s)+len("._domainkey.")+len(domain) > 253 {
		return errors.New("selector._domainkey.domain is longer than 253 bytes")
	}
	return validLabels(strings.Split(s, "."))
}

// validLabels checks sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2), each
// at most 63 bytes (RFC 1035 §2.3.4).
func validLabels(labels []string) error {
	for _, l := range labels {
		if l == "" {
			return errors.New("empty label")
		}
		if len(l) > 63 {
			return errors.New("label longer than 63 bytes")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			case c == '-' && i > 0 && i < len(l)-1:
			default:
				return errors.New("labels are letters, digits and inner hyphens")
			}
		}
	}
	return nil
}
