package dkimsign

import (
	"bytes"
	"io"
)

// canon is one canonicalization algorithm (RFC 6376 §3.4).
type canon int

const (
	canonSimple canon = iota
	canonRelaxed
)

func (c canon) String() string {
	if c == canonRelaxed {
		return "relaxed"
	}
	return "simple"
}

// ValidCanonicalization reports whether s is a canonicalization
// Options.Canonicalization accepts: "", "relaxed", "simple" or
// "header/body" with each of relaxed and simple (sdk/ABI.md §4.10).
func ValidCanonicalization(s string) bool {
	_, _, ok := parseCanonicalization(s)
	return ok
}

// parseCanonicalization reads the c= form "header/body"; a single word
// applies to both (an option shorthand: in a c= tag a lone word means
// word/simple, so the tag is always written in full). "" is relaxed/relaxed.
func parseCanonicalization(s string) (header, body canon, ok bool) {
	switch s {
	case "", "relaxed", "relaxed/relaxed":
		return canonRelaxed, canonRelaxed, true
	case "relaxed/simple":
		return canonRelaxed, canonSimple, true
	case "simple", "simple/simple":
		return canonSimple, canonSimple, true
	case "simple/relaxed":
		return canonSimple, canonRelaxed, true
	}
	return 0, 0, false
}

var crlf = []byte("\r\n")

// canonHeader appends field (a whole rendered field with its final CRLF) to
// dst in canonical form.
//
// simple (§3.4.1): unchanged.
// relaxed (§3.4.2): name lowercased; value unfolded; runs of WSP become one
// SP; WSP at the end of the value and around the colon removed; CRLF kept.
//
// The field has no bare CR or LF (Sign refuses such messages).
func canonHeader(dst []byte, c canon, field []byte) []byte {
	if c == canonSimple {
		return append(dst, field...)
	}
	colon := bytes.IndexByte(field, ':')
	name := bytes.TrimRight(field[:colon], " \t")
	for _, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	dst = append(dst, ':')
	value := bytes.TrimSuffix(field[colon+1:], crlf)
	wsp := false
	wrote := false
	for i := 0; i < len(value); i++ {
		switch ch := value[i]; ch {
		case '\r', '\n':
			// Folding CRLF: unfolding removes it, the WSP after it
			// joins the run (§3.4.2 "including those before and after
			// a line folding boundary").
		case ' ', '\t':
			wsp = true
		default:
			if wsp && wrote {
				dst = append(dst, ' ')
			}
			wsp = false
			wrote = true
			dst = append(dst, ch)
		}
	}
	return append(dst, crlf...)
}

// bodyHasher writes the canonical form of a body to w (RFC 6376 §3.4.3,
// §3.4.4). body is the body as rendered: CRLF-terminated lines, or empty.
func canonBody(w io.Writer, c canon, body []byte) error {
	if c == canonSimple {
		// §3.4.3: ignore all empty lines at the end; an empty body is
		// one CRLF.
		for bytes.HasSuffix(body, crlf) {
			body = body[:len(body)-2]
		}
		if len(body) > 0 {
			if _, err := w.Write(body); err != nil {
				return err
			}
		}
		_, err := w.Write(crlf)
		return err
	}
	// §3.4.4: WSP runs become one SP, WSP at line ends is removed, empty
	// lines at the end are ignored; an empty result stays empty.
	var buf []byte
	pendingEmpty := 0
	for len(body) > 0 {
		i := bytes.Index(body, crlf)
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+2:]
		}
		out := line
		if !relaxed(line) {
			buf = relaxLine(buf[:0], line)
			out = buf
		}
		if len(out) == 0 {
			pendingEmpty++
			continue
		}
		for ; pendingEmpty > 0; pendingEmpty-- {
			if _, err := w.Write(crlf); err != nil {
				return err
			}
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
		if _, err := w.Write(crlf); err != nil {
			return err
		}
	}
	return nil
}

// relaxed reports whether line is already in relaxed form: no tab, no two
// spaces in a row, no space at the end. Most lines are, and the check runs
// at memory speed, so they are hashed without a copy.
func relaxed(line []byte) bool {
	n := len(line)
	return (n == 0 || line[n-1] != ' ') && bytes.IndexByte(line, '\t') < 0 && !bytes.Contains(line, doubleSpace)
}

var doubleSpace = []byte("  ")

// relaxLine appends line with WSP runs reduced to one SP and trailing WSP
// removed.
func relaxLine(dst, line []byte) []byte {
	wsp := false
	for _, ch := range line {
		if ch == ' ' || ch == '\t' {
			wsp = true
			continue
		}
		if wsp {
			dst = append(dst, ' ')
			wsp = false
		}
		dst = append(dst, ch)
	}
	return dst
}
