// Package authres reduces text from a message or DNS to what an RFC 8601
// Authentication-Results field allows. The gateway renders the field with
// it (gateway/msgauth) and the auth-results plugin writes its tags with it,
// so the two agree. It imports nothing but the standard library's basics:
// WebAssembly plugins import it too.
package authres

// MaxValue bounds a property value taken from the message or DNS, so that
// no line of the field comes near the hard limit of 998 bytes.
const MaxValue = 255

// Keyword reduces a result or policy name to lower-case letters, "none"
// when nothing is left; results are RFC 8601 §2.7 keywords already, this
// only guards the field's syntax.
func Keyword(s string) string {
	if lowerWord(s) {
		return s // the usual case: no copy (a copy is costly in a guest)
	}
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

// Value reduces s to printable ASCII without whitespace and without
// ;()"\, at most MaxValue bytes. A value that needs no change is returned
// as it is, without a copy.
func Value(s string) string {
	clean := len(s) <= MaxValue
	for i := 0; i < len(s) && clean; i++ {
		clean = valueByte(s[i])
	}
	if clean {
		return s
	}
	b := make([]byte, 0, min(len(s), MaxValue))
	for i := 0; i < len(s) && len(b) < MaxValue; i++ {
		if valueByte(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// valueByte reports whether Value keeps c.
// lowerWord reports whether s is 1 to 32 lower-case letters, which
// Keyword returns unchanged.
func lowerWord(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func valueByte(c byte) bool {
	switch c {
	case ';', '(', ')', '"', '\\':
		return false
	}
	return c > ' ' && c < 0x7f
}
