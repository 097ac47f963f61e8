package main

// render returns the field's value: the authserv-id, then the host's result
// list (sluice.AuthResult.ResInfo, already folded and sanitized: the host
// renders it because byte-by-byte work is costly inside the sandbox), each
// result on a line of its own. No results at all is "id; none" (RFC 8601
// §2.2).
func render(id, resinfo string) string {
	if resinfo == "" {
		return id + "; none"
	}
	return id + ";\r\n\t" + resinfo
}

// maxValue bounds a tag value taken from a result.
const maxValue = 255

// keyword reduces a result or policy name to lower-case letters, for a
// tag; "none" when nothing is left. The host sends RFC 8601 §2.7 keywords;
// this only guards against a surprise.
func keyword(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 32; i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c >= 'a' && c <= 'z' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// value reduces a domain from the message or DNS to printable ASCII
// without whitespace and without ;()"\, at most maxValue bytes, for a tag.
func value(s string) string {
	clean := len(s) <= maxValue
	for i := 0; i < len(s) && clean; i++ {
		clean = valueByte(s[i])
	}
	if clean {
		return s
	}
	b := make([]byte, 0, min(len(s), maxValue))
	for i := 0; i < len(s) && len(b) < maxValue; i++ {
		if valueByte(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func valueByte(c byte) bool {
	switch c {
	case ';', '(', ')', '"', '\\':
		return false
	}
	return c > ' ' && c < 0x7f
}
