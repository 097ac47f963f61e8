package smtp

import (
	"bytes"
	"io"
)

// DotWriter writes a message as the body of DATA: every line that starts
// with "." gets a second one (RFC 5321 §4.5.2), every line ends in CRLF, and
// Close adds the end of data, "." CRLF, after a final CRLF if the message
// lacked one.
//
// Its input is meant to be a message that ReadData already checked, with CRLF
// line endings. It still defends the output: a bare LF or a bare CR in the
// input is written as CRLF, so the output never holds a stray CR or LF and
// never a line "." before the end.
//
// Runs of input are passed to the underlying writer in one Write each, broken
// only where a dot or a line ending must be inserted; give it a buffered
// writer. Errors are sticky.
type DotWriter struct {
	w         io.Writer
	lineStart bool // the next byte starts a line
	pendingCR bool // the last input byte was a CR not yet written
	n         int64
	err       error
	closed    bool
}

// NewDotWriter returns a DotWriter writing to w.
func NewDotWriter(w io.Writer) *DotWriter {
	return &DotWriter{w: w, lineStart: true}
}

var (
	crlf = []byte("\r\n")
	dot  = []byte(".")
	eod  = []byte(".\r\n")
)

// Write dot-stuffs p. It returns len(p) unless the underlying writer failed.
func (d *DotWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.closed {
		return 0, io.ErrClosedPipe
	}
	start, i := 0, 0
	if d.pendingCR && len(p) > 0 {
		// A CR ended the previous Write: with this LF it is a CRLF, and
		// without it a bare CR, written as a line break all the same.
		d.pendingCR = false
		if p[0] == '\n' {
			i = 1
		}
		d.emit(crlf)
		d.lineStart = true
		start = i
	}
	for i < len(p) {
		if d.lineStart {
			if p[i] == '.' {
				d.emit(p[start:i])
				d.emit(dot)
				start = i // the original dot starts the next run
			}
			d.lineStart = false
		}
		rest := p[i:]
		lf := bytes.IndexByte(rest, '\n')
		seg := rest
		if lf >= 0 {
			seg = rest[:lf]
		}
		cr := bytes.IndexByte(seg, '\r')
		switch {
		case lf >= 0 && cr == len(seg)-1 && cr >= 0:
			// A proper CRLF: it stays in the run.
			i += lf + 1
			d.lineStart = true
		case cr >= 0 && lf < 0 && cr == len(seg)-1:
			// A CR at the very end: wait for the next Write.
			d.emit(p[start : i+cr])
			d.pendingCR = true
			i = len(p)
			start = i
		case cr >= 0:
			// A bare CR: end the line there.
			d.emit(p[start : i+cr])
			d.emit(crlf)
			i += cr + 1
			start = i
			d.lineStart = true
		case lf >= 0:
			// A bare LF: write CRLF instead.
			d.emit(p[start : i+lf])
			d.emit(crlf)
			i += lf + 1
			start = i
			d.lineStart = true
		default:
			i = len(p)
		}
	}
	d.emit(p[start:])
	if d.err != nil {
		return 0, d.err
	}
	return len(p), nil
}

// Close ends the last line if needed and writes the end of data, "." CRLF.
// It does not close the underlying writer.
func (d *DotWriter) Close() error {
	if d.err != nil || d.closed {
		return d.err
	}
	d.closed = true
	if d.pendingCR || !d.lineStart {
		d.emit(crlf)
	}
	d.pendingCR = false
	d.emit(eod)
	return d.err
}

// Written returns the number of bytes passed to the underlying writer.
func (d *DotWriter) Written() int64 { return d.n }

func (d *DotWriter) emit(b []byte) {
	if d.err != nil || len(b) == 0 {
		return
	}
	n, err := d.w.Write(b)
	d.n += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	d.err = err
}
