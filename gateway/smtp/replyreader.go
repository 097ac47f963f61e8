package smtp

import (
	"bufio"
	"errors"
	"fmt"
)

// Limits of ReadReply (docs/TESTPLAN.md row 39: a garbage, oversized or endless reply
// is a bounded read, then an error).
const (
	// MaxReplyLineLength is the longest reply line accepted, CRLF included.
	// RFC 5321 §4.5.3.1.5 says 512; servers send longer ones.
	MaxReplyLineLength = 4096
	// MaxReplyLines is the largest number of lines in one reply.
	MaxReplyLines = 100
)

// ReadReply reads one reply, possibly multi-line (RFC 5321 §4.2):
//
//	Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//	             Reply-code [ SP textstring ] CRLF
//
// Every line must carry the same code, 2xx to 5xx with a second digit of 0
// to 5. An enhanced status code (RFC 3463, RFC 2034 §4) is recognised when the
// first line starts with one whose class matches the code; it is then removed
// from every line that repeats it. Text is returned as sent: use
// Reply.Sanitized before relaying it.
//
// A reply that breaks these rules or the limits above gives an error wrapping
// ErrBadReply (and ErrLineTooLong, ErrBareLF... when that was the cause); an
// I/O failure gives the reader's error.
func ReadReply(r *bufio.Reader) (*Reply, error) {
	rep := &Reply{}
	for n := 0; ; n++ {
		if n == MaxReplyLines {
			return nil, fmt.Errorf("%w: more than %d lines", ErrBadReply, MaxReplyLines)
		}
		line, err := ReadLine(r, MaxReplyLineLength)
		if err != nil {
			if errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrBareLF) ||
				errors.Is(err, ErrBareCR) || errors.Is(err, ErrNUL) {
				return nil, fmt.Errorf("%w: %w", ErrBadReply, err)
			}
			return nil, err
		}
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			rep.Code = code
			if e, rest, ok := cutEnhanced(text, code); ok {
				rep.Enhanced, text = e, rest
			}
		} else {
			if code != rep.Code {
				return nil, fmt.Errorf("%w: code %d inside reply %d", ErrBadReply, code, rep.Code)
			}
			if rep.Enhanced != "" {
				if _, rest, ok := cutEnhanced(text, code); ok {
					text = rest
				}
			}
		}
		rep.Lines = append(rep.Lines, text)
		if last {
			return rep, nil
		}
	}
}

// parseReplyLine splits "250-text" / "250 text" / "250".
func parseReplyLine(line []byte) (code int, last bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: short line", ErrBadReply)
	}
	d0, d1, d2 := line[0], line[1], line[2]
	if d0 < '2' || d0 > '5' || d1 < '0' || d1 > '5' || d2 < '0' || d2 > '9' {
		return 0, false, "", fmt.Errorf("%w: bad code", ErrBadReply)
	}
	code = int(d0-'0')*100 + int(d1-'0')*10 + int(d2-'0')
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, string(line[4:]), nil
	case '-':
		return code, false, string(line[4:]), nil
	}
	return 0, false, "", fmt.Errorf("%w: bad separator", ErrBadReply)
}

// cutEnhanced splits a leading enhanced status code off text when it is
// valid for code.
func cutEnhanced(text string, code int) (enhanced, rest string, ok bool) {
	end := 0
	for end < len(text) && text[end] != ' ' {
		end++
	}
	if end == 0 || end > 9 || !ValidEnhanced(text[:end], code) {
		return "", text, false
	}
	rest = text[end:]
	if len(rest) > 0 {
		rest = rest[1:]
	}
	return text[:end], rest, true
}
