package dkimverify

import (
	"bytes"
	"strings"
)

// header is the header of a message as a verifier reads it.
type header struct {
	fields [][]byte // each field, every line ended by CRLF
	body   []byte   // what follows the empty line ending the header
	ended  bool     // an empty line ended the header
}

// splitHeader reads the header of raw: lines end at LF, a CR before it
// dropped; a line starting with SP or HTAB continues the field before it
// (the first line of the header is a field whatever it starts with); the
// header ends at the first empty line. Each field is returned with CRLF
// line ends, as go-msgauth reads it (so that the two verifiers sign the
// same bytes): raw itself when its lines already end so, a copy otherwise.
func splitHeader(raw []byte) header {
	var h header
	start, end := -1, 0 // the field being read
	clean := true       // its lines all end in CRLF
	flush := func() {
		if start < 0 {
			return
		}
		f := raw[start:end]
		if !clean {
			f = withCRLF(f)
		}
		h.fields = append(h.fields, f)
	}
	pos := 0
	for pos < len(raw) {
		next := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := raw[pos:next]
		crlf := bytes.HasSuffix(line, []byte("\r\n"))
		content := line // without its line end: LF or CRLF, none at the end of raw
		if bytes.HasSuffix(line, []byte("\n")) {
			content = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		}
		if len(content) == 0 {
			flush()
			h.body, h.ended = raw[next:], true
			return h
		}
		if start >= 0 && (content[0] == ' ' || content[0] == '\t') {
			end = next
			clean = clean && crlf
		} else {
			flush()
			start, end, clean = pos, next, crlf
		}
		pos = next
	}
	flush()
	return h
}

// withCRLF returns the lines of f, each ended by CRLF (an LF or CRLF
// ending replaced, a missing one added).
func withCRLF(f []byte) []byte {
	var out []byte
	for len(f) > 0 {
		line := f
		if i := bytes.IndexByte(f, '\n'); i >= 0 {
			line, f = f[:i], f[i+1:]
		} else {
			f = nil
		}
		out = append(out, bytes.TrimSuffix(line, []byte("\r"))...)
		out = append(out, "\r\n"...)
	}
	return out
}

// fieldName is the name of a field, WSP around it removed; a field
// without a colon is all name.
func fieldName(f []byte) []byte {
	if i := bytes.IndexByte(f, ':'); i >= 0 {
		f = f[:i]
	}
	return bytes.TrimFunc(f, isSpace)
}

// fieldValue is what follows the first colon of f ("" without one).
func fieldValue(f []byte) []byte {
	if i := bytes.IndexByte(f, ':'); i >= 0 {
		return f[i+1:]
	}
	return nil
}

// isSpace is ASCII whitespace: WSP, CR, LF, VT, FF.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f'
}

// picker selects the fields named in h=, each instance from the bottom of
// the header up (RFC 6376 §5.4.2).
type picker struct {
	fields [][]byte
	used   map[string]int // instances of a name already picked
}

// pick returns the next instance of name, nil when none is left (a name
// listed more often than the header has it contributes nothing, §5.4).
func (p *picker) pick(name string) []byte {
	name = strings.ToLower(name)
	skip := p.used[name]
	nb := []byte(name)
	for i := len(p.fields) - 1; i >= 0; i-- {
		if !bytes.EqualFold(fieldName(p.fields[i]), nb) {
			continue
		}
		if skip == 0 {
			if p.used == nil {
				p.used = map[string]int{}
			}
			p.used[name]++
			return p.fields[i]
		}
		skip--
	}
	return nil
}
