package sluice

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeAuthResult reads the JSON of auth_check (ABI §4.11) into an
// AuthResult, by hand: one pass over the text, member strings sliced from
// it when they hold no escape, unknown members skipped (the ABI may add
// some). encoding/json's reflection is slow in a WebAssembly guest, and
// fetching each member with auth_value costs a host call and two
// allocations per member (RATIONALE.md, "CheckAuth reads the JSON in one
// call"). ok is false for anything that is not such an object; the caller
// then asks auth_value instead.
func decodeAuthResult(s string) (r *AuthResult, ok bool) {
	d := jsonText{s: s}
	r = &AuthResult{}
	d.object(func(key string) {
		switch key {
		case "spf":
			if d.null() {
				return
			}
			r.SPF = &SPFResult{}
			d.spf(r.SPF)
		case "dkim":
			if d.null() {
				return
			}
			r.DKIM = make([]DKIMResult, 0, 1)
			d.array(func() {
				var k DKIMResult
				d.dkim(&k)
				r.DKIM = append(r.DKIM, k)
			})
		case "dmarc":
			if d.null() {
				return
			}
			r.DMARC = &DMARCResult{}
			d.dmarc(r.DMARC)
		case "resinfo":
			d.str(&r.ResInfo)
		default:
			d.skip()
		}
	})
	d.space()
	if d.bad || d.i != len(d.s) {
		return nil, false
	}
	return r, true
}

func (d *jsonText) spf(m *SPFResult) {
	d.object(func(key string) {
		switch key {
		case "result":
			d.str(&m.Result)
		case "identity":
			d.str(&m.Identity)
		case "domain":
			d.str(&m.Domain)
		case "sender":
			d.str(&m.Sender)
		case "reason":
			d.str(&m.Reason)
		default:
			d.skip()
		}
	})
}

func (d *jsonText) dkim(m *DKIMResult) {
	d.object(func(key string) {
		switch key {
		case "result":
			d.str(&m.Result)
		case "domain":
			d.str(&m.Domain)
		case "selector":
			d.str(&m.Selector)
		case "identifier":
			d.str(&m.Identifier)
		case "algorithm":
			d.str(&m.Algorithm)
		case "b":
			d.str(&m.Signature)
		case "reason":
			d.str(&m.Reason)
		default:
			d.skip()
		}
	})
}

func (d *jsonText) dmarc(m *DMARCResult) {
	d.object(func(key string) {
		switch key {
		case "result":
			d.str(&m.Result)
		case "from_domain":
			d.str(&m.FromDomain)
		case "policy_domain":
			d.str(&m.PolicyDomain)
		case "policy":
			d.str(&m.Policy)
		case "pct":
			d.int(&m.Percent)
		case "spf_aligned":
			d.bool(&m.SPFAligned)
		case "dkim_aligned":
			d.bool(&m.DKIMAligned)
		case "reason":
			d.str(&m.Reason)
		default:
			d.skip()
		}
	})
}

// jsonText is a cursor over JSON text. The first error sets bad; later
// reads then do nothing, so callers check once at the end.
type jsonText struct {
	s   string
	i   int
	bad bool
}

func (d *jsonText) fail() { d.bad, d.i = true, len(d.s) }

// space skips JSON whitespace.
func (d *jsonText) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (d *jsonText) peek() byte {
	d.space()
	if d.i >= len(d.s) {
		return 0
	}
	return d.s[d.i]
}

// consume reads c, or fails.
func (d *jsonText) consume(c byte) {
	if d.peek() != c {
		d.fail()
		return
	}
	d.i++
}

// literal reads word (true, false, null) if it comes next.
func (d *jsonText) literal(word string) bool {
	d.space()
	if strings.HasPrefix(d.s[d.i:], word) {
		d.i += len(word)
		return true
	}
	return false
}

// null reads a null, which leaves a member at its zero value as
// encoding/json does.
func (d *jsonText) null() bool { return d.literal("null") }

// object reads an object, calling member after each key and its colon;
// member reads the value.
func (d *jsonText) object(member func(key string)) {
	d.consume('{')
	if d.peek() == '}' {
		d.i++
		return
	}
	for !d.bad {
		var key string
		if d.peek() != '"' {
			d.fail()
			return
		}
		d.str(&key)
		d.consume(':')
		if d.bad {
			return
		}
		member(key)
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// array reads an array, calling elem for each element.
func (d *jsonText) array(elem func()) {
	d.consume('[')
	if d.peek() == ']' {
		d.i++
		return
	}
	for !d.bad {
		elem()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.fail()
		}
	}
}

// str reads a string into *v; null leaves *v alone.
func (d *jsonText) str(v *string) {
	if d.null() {
		return
	}
	if d.peek() != '"' {
		d.fail()
		return
	}
	start := d.i + 1
	end := strings.IndexByte(d.s[start:], '"')
	if end < 0 {
		d.fail()
		return
	}
	end += start
	if esc := strings.IndexByte(d.s[start:end], '\\'); esc >= 0 {
		*v = d.unescape(start, start+esc)
		return
	}
	*v = d.s[start:end]
	d.i = end + 1
}

// unescape reads the rest of a string that has an escape at esc, start
// being its first byte.
func (d *jsonText) unescape(start, esc int) string {
	b := make([]byte, 0, len(d.s)-start)
	b = append(b, d.s[start:esc]...)
	i := esc
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(b)
		case c != '\\':
			b = append(b, c)
			i++
			continue
		case i+1 >= len(d.s):
			d.fail()
			return ""
		}
		i += 2
		switch d.s[i-1] {
		case '"', '\\', '/':
			b = append(b, d.s[i-1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(d.s, i)
			if !ok {
				d.fail()
				return ""
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair is one character; a lone half is U+FFFD, as
				// encoding/json decodes it.
				r2, ok := rune(-1), false
				if i+1 < len(d.s) && d.s[i] == '\\' && d.s[i+1] == 'u' {
					r2, ok = hex4(d.s, i+2)
				}
				if ok {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			d.fail()
			return ""
		}
	}
	d.fail()
	return ""
}

// hex4 decodes the four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i:i+4], 16, 32)
	return rune(n), err == nil
}

// number returns the text of a number.
func (d *jsonText) number() string {
	d.space()
	start := d.i
	for d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	if d.i == start {
		d.fail()
	}
	return d.s[start:d.i]
}

// int reads an integer into *v; null leaves *v alone.
func (d *jsonText) int(v *int) {
	if d.null() {
		return
	}
	n, err := strconv.Atoi(d.number())
	if err != nil {
		d.fail()
		return
	}
	*v = n
}

// bool reads true or false into *v; null leaves *v alone.
func (d *jsonText) bool(v *bool) {
	switch {
	case d.literal("true"):
		*v = true
	case d.literal("false"):
		*v = false
	case !d.null():
		d.fail()
	}
}

// skip reads any value.
func (d *jsonText) skip() {
	switch c := d.peek(); {
	case c == '{':
		d.object(func(string) { d.skip() })
	case c == '[':
		d.array(d.skip)
	case c == '"':
		var s string
		d.str(&s)
	case c == '-' || c >= '0' && c <= '9':
		if _, err := strconv.ParseFloat(d.number(), 64); err != nil {
			d.fail()
		}
	case !d.literal("true") && !d.literal("false") && !d.null():
		d.fail()
	}
}
