package smtp

import "strings"

// ValidHostName reports whether s is a host name as XCLIENT and XFORWARD
// carry it: labels of letters, digits, hyphens and underscores, none empty
// or longer than 63 bytes, at most 253 bytes in all, an optional final dot
// (RFC 1035 §2.3.1, loosely: underscores occur in the wild).
func ValidHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
				return false
			}
		}
	}
	return true
}
