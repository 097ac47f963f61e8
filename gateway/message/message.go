// Package message is the model of one mail message as plugins see it: an
// ordered list of header fields, duplicates and raw folding kept, and a body
// (RFC 5322 §2.1). Unchanged fields are written back byte for byte.
package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Field is one header field. Raw is the whole field as received or rendered,
// "Name: value" including folding CRLFs and the final CRLF.
type Field struct {
	Name string // as written, case kept
	Raw  []byte
}

// Value returns the bytes after the colon, with one leading space removed and
// without the final CRLF (sdk/ABI.md §4.4).
func (f Field) Value() []byte {
	i := bytes.IndexByte(f.Raw, ':')
	v := f.Raw[i+1:]
	v = bytes.TrimSuffix(v, []byte("\r\n"))
	if len(v) > 0 && v[0] == ' ' {
		v = v[1:]
	}
	return v
}

// Message is a parsed message. The zero value is an empty message.
type Message struct {
	Fields []Field
	Body   []byte

	raw   []byte // the original bytes while nothing was changed
	dirty bool
}

// Limits bound the header parser (docs/TESTPLAN.md row 19).
type Limits struct {
	MaxHeaderBytes  int // total size of the header block; 0 = no limit
	MaxHeaderFields int // number of fields; 0 = no limit
}

// ErrHeaderTooBig is returned by Parse when the header exceeds its limits.
var ErrHeaderTooBig = errors.New("message header exceeds limits")

// Parse splits raw (CRLF line endings, already dot-unstuffed) into header
// fields and body. The header ends at the first empty line; a line that is
// neither a field nor a continuation also ends it and starts the body (as
// Postfix's cleanup does). raw is kept, not copied: do not modify it.
func Parse(raw []byte, lim Limits) (*Message, error) {
	m := &Message{raw: raw}
	pos := 0
	for pos < len(raw) {
		if lim.MaxHeaderBytes > 0 && pos > lim.MaxHeaderBytes {
			return nil, ErrHeaderTooBig
		}
		line := nextLine(raw, pos)
		if len(line) == 2 && line[0] == '\r' {
			m.Body = raw[pos+len(line):]
			return m.checkLimits(pos, lim)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(m.Fields) == 0 {
				break // continuation without a field: body starts here
			}
			f := &m.Fields[len(m.Fields)-1]
			f.Raw = raw[pos-len(f.Raw) : pos+len(line)]
			pos += len(line)
			continue
		}
		name, ok := fieldName(line)
		if !ok {
			break
		}
		if lim.MaxHeaderFields > 0 && len(m.Fields) >= lim.MaxHeaderFields {
			return nil, ErrHeaderTooBig
		}
		m.Fields = append(m.Fields, Field{Name: string(name), Raw: raw[pos : pos+len(line)]})
		pos += len(line)
	}
	// No empty line: everything from pos on is body. While unchanged the raw
	// bytes are forwarded; once changed, a separator is written between
	// header and body.
	m.Body = raw[pos:]
	return m.checkLimits(pos, lim)
}

func (m *Message) checkLimits(headerBytes int, lim Limits) (*Message, error) {
	if lim.MaxHeaderBytes > 0 && headerBytes > lim.MaxHeaderBytes {
		return nil, ErrHeaderTooBig
	}
	return m, nil
}

// nextLine returns the line at pos including its CRLF (or the rest of b).
func nextLine(b []byte, pos int) []byte {
	i := bytes.Index(b[pos:], []byte("\r\n"))
	if i < 0 {
		return b[pos:]
	}
	return b[pos : pos+i+2]
}

// fieldName returns the field name of a header line "Name:...".
func fieldName(line []byte) ([]byte, bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, false
	}
	name := line[:i]
	// Tolerate whitespace before the colon (RFC 5322 §4.5.3 obsolete syntax).
	trimmed := bytes.TrimRight(name, " \t")
	if len(trimmed) == 0 || ValidName(trimmed) != nil {
		return nil, false
	}
	return trimmed, true
}

// ValidName checks a header field name: 1 to 76 bytes of printable ASCII other
// than ':' (RFC 5322 §3.6.8; 76 keeps "Name: " within a line).
func ValidName(name []byte) error {
	if len(name) == 0 || len(name) > 76 {
		return errors.New("header name must be 1 to 76 bytes")
	}
	for _, c := range name {
		if c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("header name contains byte 0x%02x", c)
		}
	}
	return nil
}

// MaxLine is the longest line of a message, CRLF excluded, that RFC 5322
// §2.1.1 allows.
const MaxLine = 998

// ValidValue checks a header field value: no NUL, no bare CR or LF, CRLF only
// as folding (followed by SP or HTAB, not ending in an empty line) (RFC 5322
// §2.2, §2.2.3). Line length is not checked: Render folds long lines.
func ValidValue(name, value []byte) error {
	for i := 0; i < len(value); i++ {
		switch value[i] {
		case 0:
			return errors.New("header value contains NUL")
		case '\r':
			if i+2 >= len(value) || value[i+1] != '\n' || !isWSP(value[i+2]) {
				return errors.New("header value contains CR or LF that is not folding")
			}
			i++ // skip LF
			if onlyWSP(value[i+1:]) {
				return errors.New("header value ends in a whitespace-only continuation line")
			}
		case '\n':
			return errors.New("header value contains CR or LF that is not folding")
		}
	}
	return nil
}

// Fold returns value with a CRLF inserted before a space or tab wherever a
// line of the rendered field "name: value" would be longer than MaxLine
// bytes (sdk/ABI.md §4.4, "the 998-byte line rule"). The unfolded value
// (RFC 5322 §2.2.3: CRLFs before whitespace removed) is unchanged, folding
// the value already has is kept, and a value whose lines all fit is returned
// as is. A line is folded at the last whitespace that keeps it within
// MaxLine, else at the first one after; whitespace that starts or ends a
// line is never a fold point, so no line is left blank. A line with no fold
// point (one word longer than MaxLine) stays long: no folding can shorten
// it, and refusing it would refuse what the client sent. value must pass
// ValidValue.
func Fold(name, value []byte) []byte {
	var out []byte
	copied := 0
	start, prefix := 0, len(name)+2 // the current line in value; "Name: " before it
	for {
		end := len(value)
		if i := bytes.Index(value[start:], []byte("\r\n")); i >= 0 {
			end = start + i
		}
		for prefix+end-start > MaxLine {
			p := foldPoint(value[start:end], MaxLine-prefix)
			if p < 0 {
				break
			}
			p += start
			out = append(out, value[copied:p]...)
			out = append(out, '\r', '\n')
			copied, start, prefix = p, p, 0
		}
		if end == len(value) {
			break
		}
		start, prefix = end+2, 0
	}
	if out == nil {
		return value
	}
	return append(out, value[copied:]...)
}

// foldPoint returns the index of the whitespace in line to fold before: the
// last one at or before limit, else the first one after it, else -1. Only
// whitespace with a non-whitespace byte before and after it in line counts.
func foldPoint(line []byte, limit int) int {
	first, last := -1, -1
	for i, c := range line {
		if !isWSP(c) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	best := -1
	for i := first + 1; i < last; i++ {
		if !isWSP(line[i]) {
			continue
		}
		if i > limit {
			if best < 0 {
				best = i
			}
			break
		}
		best = i
	}
	return best
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

func onlyWSP(b []byte) bool {
	for _, c := range b {
		if c == '\r' {
			return true
		}
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// ValidBody checks a body: no NUL, no bare CR or LF, lines at most MaxLine bytes
// before CRLF. A body that does not end in CRLF is allowed (it is completed
// on output).
func ValidBody(b []byte) error {
	start := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case 0:
			return errors.New("body contains NUL")
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return errors.New("body contains a bare CR")
			}
			if i-start > MaxLine {
				return errors.New("body line longer than 998 bytes")
			}
			i++
			start = i + 1
		case '\n':
			return errors.New("body contains a bare LF")
		}
	}
	if len(b)-start > MaxLine {
		return errors.New("body line longer than 998 bytes")
	}
	return nil
}

// Render builds a field from a name and a value, folded (Fold).
func Render(name, value []byte) (Field, error) {
	if err := ValidName(name); err != nil {
		return Field{}, err
	}
	if err := ValidValue(name, value); err != nil {
		return Field{}, err
	}
	value = Fold(name, value)
	raw := make([]byte, 0, len(name)+len(value)+4)
	raw = append(raw, name...)
	raw = append(raw, ':', ' ')
	raw = append(raw, value...)
	raw = append(raw, '\r', '\n')
	return Field{Name: string(name), Raw: raw}, nil
}

// Find returns the index of the nth (0-based) field named name, compared
// case-insensitively, or -1.
func (m *Message) Find(name []byte, nth int) int {
	for i := range m.Fields {
		if len(m.Fields[i].Name) == len(name) && bytes.EqualFold([]byte(m.Fields[i].Name), name) {
			if nth == 0 {
				return i
			}
			nth--
		}
	}
	return -1
}

// Insert puts f before index i (0 = top, len = end).
func (m *Message) Insert(i int, f Field) bool {
	if i < 0 || i > len(m.Fields) {
		return false
	}
	m.Fields = append(m.Fields, Field{})
	copy(m.Fields[i+1:], m.Fields[i:])
	m.Fields[i] = f
	m.dirty = true
	return true
}

// Change replaces the value of field i, keeping its name.
func (m *Message) Change(i int, value []byte) (bool, error) {
	if i < 0 || i >= len(m.Fields) {
		return false, nil
	}
	f, err := Render([]byte(m.Fields[i].Name), value)
	if err != nil {
		return true, err
	}
	m.Fields[i] = f
	m.dirty = true
	return true, nil
}

// Delete removes field i.
func (m *Message) Delete(i int) bool {
	if i < 0 || i >= len(m.Fields) {
		return false
	}
	m.Fields = append(m.Fields[:i], m.Fields[i+1:]...)
	m.dirty = true
	return true
}

// SetBody replaces the body. The caller validates it (ValidBody).
func (m *Message) SetBody(b []byte) {
	m.Body = b
	m.dirty = true
}

// ReceivedSize is the size of the message as parsed (0 for a message not
// made by Parse), whatever was changed since.
func (m *Message) ReceivedSize() int { return len(m.raw) }

// Changed reports whether the message differs from what was parsed.
func (m *Message) Changed() bool { return m.dirty || m.raw == nil }

// Clone returns a copy whose field list can be changed independently; byte
// slices are shared (they are never modified in place).
func (m *Message) Clone() *Message {
	c := *m
	c.Fields = append([]Field(nil), m.Fields...)
	return &c
}

// Size is the number of bytes WriteTo writes.
func (m *Message) Size() int {
	if !m.Changed() {
		return len(m.raw)
	}
	n := 2 + len(m.Body)
	for _, f := range m.Fields {
		n += len(f.Raw)
		if !bytes.HasSuffix(f.Raw, []byte("\r\n")) {
			n += 2
		}
	}
	if len(m.Body) > 0 && !bytes.HasSuffix(m.Body, []byte("\r\n")) {
		n += 2
	}
	return n
}

// WriteTo writes the message (not dot-stuffed) with CRLF line endings. A body
// that does not end in CRLF gets one, and so does a field that ended the
// input without one (Parse of "Subject: x"), so that nothing written after
// it joins its line.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	if !m.Changed() {
		n, err := w.Write(m.raw)
		return int64(n), err
	}
	var total int64
	for _, f := range m.Fields {
		n, err := w.Write(f.Raw)
		total += int64(n)
		if err == nil && !bytes.HasSuffix(f.Raw, []byte("\r\n")) {
			n, err = w.Write([]byte("\r\n"))
			total += int64(n)
		}
		if err != nil {
			return total, err
		}
	}
	n, err := w.Write([]byte("\r\n"))
	total += int64(n)
	if err != nil {
		return total, err
	}
	n, err = w.Write(m.Body)
	total += int64(n)
	if err == nil && len(m.Body) > 0 && !bytes.HasSuffix(m.Body, []byte("\r\n")) {
		n, err = w.Write([]byte("\r\n"))
		total += int64(n)
	}
	return total, err
}

// Bytes returns the message as WriteTo writes it.
func (m *Message) Bytes() []byte {
	if !m.Changed() {
		return m.raw
	}
	var b bytes.Buffer
	b.Grow(m.Size())
	m.WriteTo(&b)
	return b.Bytes()
}
