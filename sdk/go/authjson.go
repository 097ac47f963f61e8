package sluice

import "strconv"

// The options of dkim_sign are a JSON object (ABI §4.10), written here by
// hand: encoding/json's reflection is slow inside a WebAssembly guest,
// where every loop iteration also pays the host's deadline check.

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// marshal renders the options as the JSON object of dkim_sign (ABI
// §4.10), leaving out members at their defaults.
func (o DKIMOptions) marshal() []byte {
	b := []byte{'{'}
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if len(o.Headers) > 0 {
		b = append(b, `"headers":[`...)
		for i, h := range o.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, h)
		}
		b = append(b, ']')
	}
	if o.Canonicalization != "" {
		sep()
		b = append(b, `"canonicalization":`...)
		b = appendJSONString(b, o.Canonicalization)
	}
	if o.Expiration != 0 {
		sep()
		b = append(b, `"expiration":`...)
		b = strconv.AppendInt(b, o.Expiration, 10)
	}
	return append(b, '}')
}
