package smtp

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// BareLF says what to do with an LF that is not preceded by CR.
type BareLF int

const (
	// BareLFNormalize stores a bare LF as CRLF. It never ends the data: a
	// line "." reached through a bare LF is an ordinary body line.
	BareLFNormalize BareLF = iota
	// BareLFReject reports ErrBareLF.
	BareLFReject
)

func (b BareLF) String() string {
	switch b {
	case BareLFNormalize:
		return "normalize"
	case BareLFReject:
		return "reject"
	}
	return "unknown"
}

// DataOptions configure ReadData.
type DataOptions struct {
	// MaxSize is the largest message stored, counted after dot-unstuffing
	// with CRLF line endings; 0 means no limit.
	MaxSize int64
	// MaxConsume bounds the raw bytes ReadData reads while looking for the
	// end of data; past it ReadData returns ErrDataOverrun. 0 means no limit
	// (the caller's read deadline then bounds the work).
	MaxConsume int64
	// MaxLine is the longest line accepted, counted as received (before
	// dot-unstuffing) with its CRLF; a longer one is ErrLineTooLong. 0 means
	// no limit.
	MaxLine int
	// BareLF is the policy for bare LF line endings.
	BareLF BareLF
	// SizeHint is the least initial capacity of the returned buffer; it
	// is raised to what the reader already holds.
	SizeHint int
	// Chunks, if not nil, lends the *[ChunkSize]byte buffers a message
	// that outgrows its first buffer is gathered in (see dataReader.put);
	// they are returned to it before ReadData returns.
	Chunks *sync.Pool
}

// ChunkSize is the size of the buffers a message that outgrows its first
// buffer is gathered in.
const ChunkSize = 64 << 10

// ReadData reads a message after the 354 reply up to and including the end
// of data, CRLF "." CRLF (RFC 5321 §4.1.1.4), where the first CRLF may be the
// one ending the DATA command. It removes the leading "." of every line that
// has more than that dot (§4.5.2) and returns the message with CRLF line
// endings.
//
// Only that exact byte sequence ends the data. Bare LF, bare CR and NUL never
// take part in it, so "\n.\n", "\r.\r", "\r\n.\r", "\r\r\n.\r\r\n" or
// "\r\n\x00.\r\n" are not an end (the SMTP smuggling family, CVE-2023-51764).
// A bare CR is always an error and is never stored; a bare LF is stored as
// CRLF or reported, per opt.BareLF; NUL is an error.
//
// On ErrTooBig, ErrLineTooLong, ErrNUL, ErrBareCR or ErrBareLF the data has
// still been read to its end, so the caller can reply and decide whether to
// continue. When several occur, a framing error (bare CR or LF) wins over the
// others, else the first one is reported. ErrDataOverrun, io.ErrUnexpectedEOF
// or the reader's own error (a timeout) mean the end was not reached.
func ReadData(r *bufio.Reader, opt DataOptions) ([]byte, error) {
	d := dataReader{
		opt:       opt,
		lineStart: true,
		prevCRLF:  true, // the DATA command line ended with CRLF
	}
	for {
		seg, err := r.ReadSlice('\n')
		if !d.sized {
			// Sized once the first read is in: a message that arrived
			// whole (most do, when no SIZE was declared) is stored in one
			// allocation instead of a series of doublings.
			d.out = make([]byte, 0, max(opt.SizeHint, len(seg)+r.Buffered(), 512))
			d.sized = true
		}
		d.consumed += int64(len(seg))
		if opt.MaxConsume > 0 && d.consumed > opt.MaxConsume {
			d.release()
			return nil, ErrDataOverrun
		}
		d.lineLen += len(seg)
		if opt.MaxLine > 0 && d.lineLen > opt.MaxLine {
			d.fail(ErrLineTooLong)
		}
		switch err {
		case nil:
			d.lineLen = 0
			if d.line(seg) {
				if d.perr != nil {
					return nil, d.perr
				}
				return d.result(), nil
			}
		case bufio.ErrBufferFull:
			d.partial(seg)
		default:
			d.release()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// dataReader is the state of one ReadData call between segments. A segment
// is what ReadSlice returns: a whole line ending in LF, or a piece of a long
// line.
type dataReader struct {
	opt       DataOptions
	out       []byte   // the buffer being filled
	full      [][]byte // filled buffers before out: the first one, then chunks
	fullLen   int      // bytes in full
	sized     bool     // out was allocated
	perr      error    // protocol error to report at the end of data
	consumed  int64
	lineLen   int  // bytes of the current line received so far
	lineStart bool // the next segment starts a line
	prevCRLF  bool // the previous line ended with a real CRLF
	pendingCR bool // the previous piece ended with a CR held back
}

// line handles a segment that ends with LF and reports end of data.
func (d *dataReader) line(seg []byte) bool {
	if d.pendingCR {
		d.pendingCR = false
		if len(seg) == 1 { // the held CR and this LF make the CRLF
			d.endLine(true)
			return false
		}
		d.fail(ErrBareCR)
	}
	content := seg[:len(seg)-1]
	crlf := len(content) > 0 && content[len(content)-1] == '\r'
	if crlf {
		content = content[:len(content)-1]
	}
	if d.lineStart && d.prevCRLF && crlf && len(content) == 1 && content[0] == '.' {
		return true
	}
	if !crlf && d.opt.BareLF == BareLFReject {
		d.fail(ErrBareLF)
	}
	d.store(content, true)
	d.endLine(crlf)
	return false
}

// partial handles a piece of a line longer than the reader's buffer.
func (d *dataReader) partial(seg []byte) {
	if d.pendingCR {
		d.pendingCR = false
		d.fail(ErrBareCR) // a piece never starts with LF
	}
	if seg[len(seg)-1] == '\r' {
		d.pendingCR = true
		seg = seg[:len(seg)-1]
	}
	d.store(seg, false)
	d.lineStart = false
}

// store checks line content (no terminator) and appends it, dot-unstuffed
// when it starts a line. whole is false for the first piece of a long line.
func (d *dataReader) store(content []byte, whole bool) {
	if bytes.IndexByte(content, '\r') >= 0 {
		d.fail(ErrBareCR)
	}
	if bytes.IndexByte(content, 0) >= 0 {
		d.fail(ErrNUL)
	}
	// RFC 5321 §4.5.2: a line of more than one character starting with "."
	// loses that dot. A lone "." that did not end the data (it followed a
	// bare LF, or ended with one) stays: nothing was stuffed into it.
	if d.lineStart && len(content) > 0 && content[0] == '.' && (len(content) > 1 || !whole) {
		content = content[1:]
	}
	if d.perr != nil {
		return
	}
	if d.opt.MaxSize > 0 && int64(d.len()+len(content)) > d.opt.MaxSize {
		d.fail(ErrTooBig)
		return
	}
	d.put(content)
}

// len is the number of bytes stored.
func (d *dataReader) len() int { return d.fullLen + len(d.out) }

// put appends b. A message that outgrows its first buffer continues in
// ChunkSize buffers and is copied once, by result, into a buffer of its
// size: growing one buffer by append copied it at every step and left
// about 2.5 times the message as garbage (RATIONALE.md, "A large message
// is gathered in chunks").
func (d *dataReader) put(b []byte) {
	for len(b) > 0 {
		if len(d.out) == cap(d.out) {
			d.full = append(d.full, d.out)
			d.fullLen += len(d.out)
			d.out = d.chunk()
		}
		n := copy(d.out[len(d.out):cap(d.out)], b)
		d.out = d.out[:len(d.out)+n]
		b = b[n:]
	}
}

// chunk borrows an empty ChunkSize buffer.
func (d *dataReader) chunk() []byte {
	if d.opt.Chunks != nil {
		if c, ok := d.opt.Chunks.Get().(*[ChunkSize]byte); ok {
			return c[:0]
		}
	}
	return new([ChunkSize]byte)[:0]
}

// result is the message in one buffer of its size; the chunks go back.
func (d *dataReader) result() []byte {
	if len(d.full) == 0 {
		return d.out
	}
	msg := make([]byte, 0, d.len())
	for _, b := range d.full {
		msg = append(msg, b...)
	}
	msg = append(msg, d.out...)
	d.release()
	return msg
}

// release returns the borrowed chunks: every buffer after the first.
func (d *dataReader) release() {
	if len(d.full) > 0 && d.opt.Chunks != nil {
		for _, b := range append(d.full[1:], d.out) {
			d.opt.Chunks.Put((*[ChunkSize]byte)(b[:ChunkSize]))
		}
	}
	d.full, d.fullLen, d.out = nil, 0, nil
}

// endLine finishes a line: a bare LF is stored as CRLF (BareLFNormalize).
func (d *dataReader) endLine(crlf bool) {
	if d.perr == nil {
		if d.opt.MaxSize > 0 && int64(d.len()+2) > d.opt.MaxSize {
			d.fail(ErrTooBig)
		} else {
			d.put([]byte{'\r', '\n'})
		}
	}
	d.lineStart = true
	d.prevCRLF = crlf
}

// fail records a protocol error and stops storing.
func (d *dataReader) fail(err error) {
	if d.perr == nil || (IsFramingError(err) && !IsFramingError(d.perr)) {
		d.perr = err
	}
	d.release()
}
