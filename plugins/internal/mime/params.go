package mime

import (
	"io"
	stdmime "mime"
	"slices"
	"strconv"
	"strings"
)

// Param is one parameter of a structured header field (RFC 2045 §5.1).
// Name is lower-cased.
type Param struct {
	Name, Value string
}

// ParseValue returns the lower-cased value (media type or disposition type)
// and the parameters of a Content-Type or Content-Disposition field. It uses
// mime.ParseMediaType and, when that refuses the value, falls back to
// LenientParams, so a malformed field still yields what a mail reader would
// probably make of it. For a duplicated parameter the first value wins.
func ParseValue(v string) (string, map[string]string) {
	typ, params, err := stdmime.ParseMediaType(v)
	if err == nil {
		return typ, params
	}
	base, _, _ := strings.Cut(v, ";")
	typ = strings.ToLower(strings.TrimSpace(base))
	params = map[string]string{}
	for _, p := range LenientParams(v) {
		if _, dup := params[p.Name]; !dup {
			params[p.Name] = p.Value
		}
	}
	return typ, params
}

// maxSection bounds RFC 2231 continuation numbers: more sections than this
// are ignored.
const maxSection = 1000

// LenientParams returns every parameter of a structured field value in
// order, duplicates included. Values are unquoted; RFC 2231 continuations
// (name*0, name*1*, ...) are joined and percent-decoded into one parameter
// named after their base name, whatever the charset: the bytes are kept as
// they are, which is what an extension check needs. Nothing is refused:
// segments without '=' are skipped.
func LenientParams(v string) []Param {
	segs := splitParams(v)
	if len(segs) < 2 {
		return nil
	}
	var out []Param
	type section struct {
		n       int
		encoded bool
		value   string
	}
	var order []string
	sections := map[string][]section{}
	for _, s := range segs[1:] {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = unquote(strings.TrimSpace(value))
		base, rest, star := strings.Cut(name, "*")
		if !star || base == "" {
			out = append(out, Param{name, value})
			continue
		}
		sec := section{}
		if rest == "" { // name*=charset'lang'value
			sec.encoded = true
		} else {
			num, enc := strings.CutSuffix(rest, "*")
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n >= maxSection {
				continue
			}
			sec.n, sec.encoded = n, enc
		}
		sec.value = value
		if _, seen := sections[base]; !seen {
			order = append(order, base)
		}
		sections[base] = append(sections[base], sec)
	}
	for _, base := range order {
		secs := sections[base]
		slices.SortStableFunc(secs, func(a, b section) int { return a.n - b.n })
		var b strings.Builder
		for i, s := range secs {
			v := s.value
			if s.encoded {
				if i == 0 && s.n == 0 {
					v = stripCharset(v)
				}
				v = percentDecode(v)
			}
			b.WriteString(v)
		}
		out = append(out, Param{base, b.String()})
	}
	return out
}

// splitParams splits v on semicolons outside quoted strings.
func splitParams(v string) []string {
	var segs []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				segs = append(segs, v[start:i])
				start = i + 1
			}
		}
	}
	return append(segs, v[start:])
}

// unquote removes the quotes and backslash escapes of a quoted string
// (RFC 5322 §3.2.4); a missing closing quote is tolerated. A value that is
// not quoted is returned as is.
func unquote(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			if i+1 < len(v) {
				i++
				b.WriteByte(v[i])
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stripCharset removes the "charset'language'" prefix of an RFC 2231 §4
// extended value.
func stripCharset(v string) string {
	_, rest, ok := strings.Cut(v, "'")
	if !ok {
		return v
	}
	if _, rest, ok = strings.Cut(rest, "'"); ok {
		return rest
	}
	return v
}

// percentDecode decodes %XX escapes; a malformed escape is kept as is.
func percentDecode(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) {
			if n, err := strconv.ParseUint(v[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// DecodeWords decodes RFC 2047 encoded-words in s. Charsets the standard
// library does not know are decoded as raw bytes, which keeps ASCII text (a
// file extension, say) readable in any ASCII-compatible charset. On a
// malformed word s is returned unchanged.
func DecodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	dec := stdmime.WordDecoder{CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil }}
	out, err := dec.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

// Filenames returns every file name a part's header gives, decoded and
// without duplicates: the filename parameter of Content-Disposition (RFC
// 2183 §2.3) and the name parameter of Content-Type (RFC 2046 §4.5.1,
// obsolete but widely used), each read leniently and strictly, RFC 2231
// encodings and RFC 2047 encoded-words decoded. A filter should check them
// all: readers differ in which one they show.
func Filenames(h Header) []string {
	var out []string
	add := func(v string) {
		if v = DecodeWords(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, f := range h {
		if !strings.EqualFold(f.Name, "Content-Disposition") && !strings.EqualFold(f.Name, "Content-Type") {
			continue
		}
		// The lenient reading first: it keeps what the strict one drops
		// (duplicates, RFC 2231 sections in any charset).
		v := Unfold(f.Value)
		for _, p := range LenientParams(v) {
			if p.Name == "filename" || p.Name == "name" {
				add(p.Value)
			}
		}
		if _, params, err := stdmime.ParseMediaType(v); err == nil {
			add(params["filename"])
			add(params["name"])
		}
	}
	return out
}
