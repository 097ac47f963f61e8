package mime

import (
	"bytes"
	"strings"
)

// Field is one header field of a part. Name is as written; Value is the raw
// text after the colon, folding CRLFs kept and the final CRLF removed.
type Field struct {
	Name, Value string
}

// Header is the ordered list of a part's header fields.
type Header []Field

// Get returns the unfolded, trimmed value of the first field named name
// (compared case-insensitively).
func (h Header) Get(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return Unfold(f.Value), true
		}
	}
	return "", false
}

// Values returns the unfolded, trimmed values of every field named name.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, Unfold(f.Value))
		}
	}
	return out
}

// Unfold removes the line breaks of a folded value (RFC 5322 §2.2.3) and
// trims surrounding whitespace.
func Unfold(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r\n", "", "\r", "", "\n", "").Replace(v)
	}
	return strings.Trim(v, " \t")
}

// parseHeader reads the header of the part in b[start:end]. It returns the
// fields and the offset of the part's body: just after the empty line that
// ends the header, or the start of the first line that is neither a field
// nor a continuation (as the gateway's own parser does), or end. ended is
// false when the header runs to end without an empty line after it, so the
// part has no body.
func parseHeader(b []byte, start, end int) (h Header, bodyStart int, ended bool) {
	fieldStart, valueStart, valueEnd := -1, 0, 0
	flush := func() {
		if fieldStart >= 0 {
			h[len(h)-1].Value = string(b[valueStart:valueEnd])
		}
	}
	pos := start
	for pos < end {
		next, lineEnd := end, end
		if i := bytes.Index(b[pos:end], []byte(crlf)); i >= 0 {
			lineEnd, next = pos+i, pos+i+2
		}
		line := b[pos:lineEnd]
		switch {
		case len(line) == 0:
			flush()
			return h, next, true
		case line[0] == ' ' || line[0] == '\t':
			if fieldStart < 0 {
				flush()
				return h, pos, true
			}
			valueEnd = lineEnd
		default:
			colon := fieldName(line)
			if colon < 0 {
				flush()
				return h, pos, true
			}
			flush()
			fieldStart = pos
			h = append(h, Field{Name: string(bytes.TrimRight(line[:colon], " \t"))})
			valueStart, valueEnd = pos+colon+1, lineEnd
		}
		pos = next
	}
	flush()
	return h, end, false
}

// crlf is the line break of a message body.
const crlf = "\r\n"

// fieldName returns the index of the colon that ends a field name (RFC 5322
// §3.6.8: printable ASCII other than colon; whitespace before the colon is
// tolerated, RFC 5322 §4.5), or -1 if line does not start a field.
func fieldName(line []byte) int {
	i := 0
	for i < len(line) && line[i] > 32 && line[i] < 127 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return -1
	}
	j := i
	for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
		j++
	}
	if j == len(line) || line[j] != ':' {
		return -1
	}
	return j
}
