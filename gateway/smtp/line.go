package smtp

import (
	"bufio"
	"bytes"
	"io"
)

// MaxDiscard bounds how many bytes ReadLine throws away, after a line
// exceeded its limit, while looking for that line's end. Past it ReadLine
// stops and the stream is out of sync: the caller must close.
const MaxDiscard = 64 << 10

// ReadLine reads one line terminated by CRLF and returns it without the CRLF
// in a newly allocated slice. RFC 5321 §2.3.8 and §4.1.1.4: CR and LF only
// ever appear together, so a line ended by a bare LF, or holding a CR that is
// not followed by LF, is an error and is never returned. max is the longest
// accepted line including its CRLF (RFC 5321 §4.5.3.1.4 counts it); max <= 2
// means no limit.
//
// Errors, in order of precedence for one line:
//   - ErrLineTooLong: the line is longer than max. Its rest has been read and
//     dropped up to and including the LF, at most MaxDiscard bytes.
//   - ErrBareCR, ErrBareLF: the whole line up to its LF has been consumed.
//   - ErrNUL: the line held a NUL; it has been consumed.
//   - io.EOF when the stream ended before any byte, io.ErrUnexpectedEOF when
//     it ended inside a line, or the reader's own error (timeouts).
//
// After one of the first three the next call starts on the next line.
func ReadLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if max > 2 && len(line)+len(chunk) > max {
			if err == nil {
				return nil, ErrLineTooLong
			}
			if err != bufio.ErrBufferFull {
				return nil, err
			}
			return nil, discardLine(r)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return checkLine(line)
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// discardLine drops bytes up to and including the next LF, at most
// MaxDiscard of them, and returns ErrLineTooLong or the reader's error.
func discardLine(r *bufio.Reader) error {
	dropped := 0
	for dropped < MaxDiscard {
		chunk, err := r.ReadSlice('\n')
		dropped += len(chunk)
		if err == nil {
			return ErrLineTooLong
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return ErrLineTooLong
}

// checkLine validates a line that ends in LF and strips its CRLF.
func checkLine(line []byte) ([]byte, error) {
	content := line[:len(line)-1]
	crlf := len(content) > 0 && content[len(content)-1] == '\r'
	if crlf {
		content = content[:len(content)-1]
	}
	if bytes.IndexByte(content, '\r') >= 0 {
		return nil, ErrBareCR
	}
	if !crlf {
		return nil, ErrBareLF
	}
	if bytes.IndexByte(content, 0) >= 0 {
		return nil, ErrNUL
	}
	return content, nil
}
