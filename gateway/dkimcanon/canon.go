// Package dkimcanon is DKIM canonicalization (RFC 6376 §3.4), shared by
// the signer (gateway/dkimsign) and the verifier (gateway/dkimverify): the
// header field forms, and the body forms hashed at close to memory speed.
package dkimcanon

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/bits"
)

// Canon is one canonicalization algorithm (RFC 6376 §3.4).
type Canon int

// The two algorithms; Simple is the zero value, as c= defaults to it.
const (
	Simple Canon = iota
	Relaxed
)

func (c Canon) String() string {
	if c == Relaxed {
		return "relaxed"
	}
	return "simple"
}

var crlf = []byte("\r\n")

// Header appends field (a whole header field: name, colon, value, each
// line ended by CRLF) to dst in canonical form.
//
// simple (§3.4.1): unchanged.
// relaxed (§3.4.2): name lowercased, WSP around it removed; value unfolded;
// runs of WSP become one SP; WSP at the start and end of the value removed;
// one CRLF at the end. A CR or LF inside the value counts as WSP: in a
// well-formed field each is part of a folding CRLF followed by WSP, which
// unfolding joins into that run; a verifier may meet a stray one. A field
// without a colon is all name.
func Header(dst []byte, c Canon, field []byte) []byte {
	if c == Simple {
		return append(dst, field...)
	}
	var name, value []byte
	if colon := bytes.IndexByte(field, ':'); colon >= 0 {
		name, value = field[:colon], field[colon+1:]
	} else {
		name = field
	}
	name = bytes.Trim(name, " \t\r\n")
	for _, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		dst = append(dst, ch)
	}
	dst = append(dst, ':')
	wsp := false
	wrote := false
	for _, ch := range value {
		switch ch {
		case ' ', '\t', '\r', '\n':
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

// Body writes the canonical form of body to w (RFC 6376 §3.4.3,
// §3.4.4). Lines end at CRLF; a bare CR or LF is an ordinary byte, and a
// last line without CRLF is canonicalized as if it had one.
//
// Both forms hash the body in a few large writes: simple is the body
// itself, and relaxed writes the spans between the rare places it changes
// (a tab, two WSP in a row, WSP at a line's end), found with the
// vectorized bytes.Index family, so the cost is close to SHA-256 alone.
//
// Writing stops soon after ctx ends (every Chunk bytes), and the error is
// then ctx's.
func Body(ctx context.Context, w io.Writer, c Canon, body []byte) error {
	w = &ctxWriter{ctx: ctx, w: w}
	if c == Simple {
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
	body = trimBlankTail(body)
	if len(body) == 0 {
		return nil
	}
	if err := relaxBody(w, body); err != nil {
		return err
	}
	if !bytes.HasSuffix(body, crlf) {
		_, err := w.Write(crlf)
		return err
	}
	return nil
}

// trimBlankTail returns body without its last lines that are empty or only
// WSP (they are empty once relaxed), keeping the CRLF that ends the last
// line kept. It looks only at the tail.
func trimBlankTail(body []byte) []byte {
	keep := len(body)
	for keep > 0 {
		end := keep
		if bytes.HasSuffix(body[:keep], crlf) {
			end = keep - 2
		}
		i := end
		for i > 0 && isWSP(body[i-1]) {
			i--
		}
		switch {
		case i == 0:
			return body[:0]
		case i >= 2 && body[i-2] == '\r' && body[i-1] == '\n':
			keep = i // a blank line: drop it
		default:
			return body[:keep]
		}
	}
	return body[:keep]
}

func isWSP(b byte) bool { return b == ' ' || b == '\t' }

// relaxBody writes body with each WSP run reduced to one SP and the runs
// that end a line (before CRLF or at the end of body) removed. Everything
// else is written as it is, in spans between the runs that change, found
// by nextChange.
func relaxBody(w io.Writer, body []byte) error {
	out := spanWriter{w: w}
	pos := 0 // start of the span not yet written
	for i := 0; ; {
		p := nextChange(body, i)
		if p == len(body) {
			break
		}
		if body[p] == ' ' && !isWSP(body[p+1]) && !(body[p+1] == '\r' && p+2 < len(body) && body[p+2] == '\n') {
			i = p + 1 // one SP before another control byte (a bare CR): unchanged
			continue
		}
		for p > pos && isWSP(body[p-1]) {
			p-- // the run that changes starts here
		}
		q := p
		for q < len(body) && isWSP(body[q]) {
			q++
		}
		if err := out.write(body[pos:p]); err != nil {
			return err
		}
		lineEnd := q == len(body) || (body[q] == '\r' && q+1 < len(body) && body[q+1] == '\n')
		if !lineEnd {
			if err := out.write(space); err != nil {
				return err
			}
		}
		pos, i = q, q
	}
	// A run at the very end (no CRLF after the last line) is dropped.
	end := len(body)
	for end > pos && isWSP(body[end-1]) {
		end--
	}
	if err := out.write(body[pos:end]); err != nil {
		return err
	}
	return out.flush()
}

// spanWriter gathers short spans into one buffer before they reach w: a
// hash pays a fixed cost per Write, which would dominate on bodies where
// every line changes (format=flowed text ends its lines in a space).
// Long spans go to w directly, without a copy.
type spanWriter struct {
	w   io.Writer
	buf []byte
}

// spanDirect is the length from which a span is written without a copy;
// spanBuf is the buffer's size.
const (
	spanDirect = 1 << 10
	spanBuf    = 16 << 10
)

func (s *spanWriter) write(b []byte) error {
	if len(b) >= spanDirect {
		if err := s.flush(); err != nil {
			return err
		}
		_, err := s.w.Write(b)
		return err
	}
	if len(s.buf)+len(b) > spanBuf {
		if err := s.flush(); err != nil {
			return err
		}
	}
	if s.buf == nil {
		s.buf = make([]byte, 0, spanBuf)
	}
	s.buf = append(s.buf, b...)
	return nil
}

func (s *spanWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// nextChange returns the first index from i on that may start a change
// under relaxed canonicalization, or len(b): a tab, or a space followed by
// a control byte or a space (the caller tells a CRLF or a WSP after the
// space from other bytes; a space at the very end is left to it too).
//
// Text has a space every few bytes: it tests eight bytes at a time (SWAR).
// Eight bytes without a space (base64, long words) switch to the
// vectorized bytes.IndexByte up to the next space, so an attachment is
// scanned at memory speed.
func nextChange(b []byte, i int) int {
	const ones = 0x0101010101010101
	for i+9 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		tabs, spaces := eqBytes(w, '\t'*ones), eqBytes(w, ' '*ones)
		if spaces == 0 {
			if tabs != 0 {
				return i + bits.TrailingZeros64(tabs)/8
			}
			end := len(b)
			if j := bytes.IndexByte(b[i+8:], ' '); j >= 0 {
				end = i + 8 + j
			}
			if t := bytes.IndexByte(b[i+8:end], '\t'); t >= 0 {
				return i + 8 + t
			}
			i = end // a space, or the end
			continue
		}
		n := binary.LittleEndian.Uint64(b[i+1:]) // the byte after each of w's
		if hit := tabs | spaces&lessBytes(n, 0x21); hit != 0 {
			return i + bits.TrailingZeros64(hit)/8
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if b[i] == '\t' || (b[i] == ' ' && i+1 < len(b) && b[i+1] <= ' ') {
			return i
		}
	}
	return len(b)
}

// eqBytes has 0x80 in each byte where x and y are equal, 0 elsewhere
// (exact: no carry crosses a byte).
func eqBytes(x, y uint64) uint64 {
	const low7 = 0x7f7f7f7f7f7f7f7f
	v := x ^ y
	return ^((v&low7 + low7) | v | low7)
}

// lessBytes has 0x80 in each byte of x below k (k <= 0x80), 0 elsewhere
// (exact, as eqBytes).
func lessBytes(x uint64, k byte) uint64 {
	const low7, high = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	ge := (x&low7 + uint64(0x80-k)*0x0101010101010101) | x
	return ^ge & high
}

var space = []byte(" ")

// Chunk is how many bytes Body writes between two looks at its context:
// well under a millisecond of SHA-256.
const Chunk = 256 << 10

// ctxWriter writes to w in chunks of at most Chunk bytes and fails with
// ctx's error once ctx has ended, so hashing a large body cannot outlive
// its caller's deadline.
type ctxWriter struct {
	ctx  context.Context
	w    io.Writer
	left int // bytes until the next look at ctx
}

func (c *ctxWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if c.left <= 0 {
			if err := c.ctx.Err(); err != nil {
				return n, err
			}
			c.left = Chunk
		}
		k := min(len(b), c.left)
		m, err := c.w.Write(b[:k])
		n += m
		c.left -= m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// HasBareCRLF reports a CR not followed by LF or an LF not preceded by CR.
// With as many CRs as LFs and a CR before every LF, every CR is in a CRLF;
// counting and IndexByte run at memory speed, unlike a loop over bytes.
func HasBareCRLF(b []byte) bool {
	if bytes.Count(b, []byte{'\r'}) != bytes.Count(b, []byte{'\n'}) {
		return true
	}
	return hasBareLF(b)
}

// hasBareLF reports an LF not preceded by CR.
func hasBareLF(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return true
		}
		i += j + 1
	}
}

// FixBareLF returns b with a CR inserted before each LF that has none, as
// a mail system storing lines would deliver it; b itself when it has no
// bare LF (the usual case: one vectorized pass, no copy). A bare CR stays
// an ordinary byte.
func FixBareLF(b []byte) []byte {
	if !hasBareLF(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/64+2)
	for len(b) > 0 {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return append(out, b...)
		}
		out = append(out, b[:j]...)
		if j == 0 && (len(out) == 0 || out[len(out)-1] != '\r') || j > 0 && b[j-1] != '\r' {
			out = append(out, '\r')
		}
		out = append(out, '\n')
		b = b[j+1:]
	}
	return out
}
