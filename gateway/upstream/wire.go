package upstream

// This file holds the two wire primitives the SMTP client needs: a bounded
// reply reader and a dot-stuffing writer. They are private stand-ins for the
// shared ones in gateway/smtp and can be swapped for them as a whole.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// Bounds of one downstream reply (TESTPLAN row 39). RFC 5321 §4.5.3.1.5
// allows 512 octets per reply line; 4 KiB leaves room for chatty servers.
const (
	maxReplyLine  = 4096 // bytes per line, without the line ending
	maxReplyLines = 100
)

var (
	errReplyLineTooLong = errors.New("reply line too long")
	errReplyTooManyLine = errors.New("reply has too many lines")
	errReplySyntax      = errors.New("malformed reply")
)

// readReply reads one reply, single or multi-line (RFC 5321 §4.2.1), from
// br. Lines end in CRLF; a bare LF is tolerated. The enhanced status code
// (RFC 2034 §4, RFC 3463) is taken from the first line when it is valid for
// the reply code, and removed from every line that repeats it. Any framing
// error, an over-long line or too many lines is an error: the connection can
// no longer be trusted.
func readReply(br *bufio.Reader) (*smtp.Reply, error) {
	r := &smtp.Reply{}
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return nil, errReplyTooManyLine
		}
		line, err := readReplyLine(br)
		if err != nil {
			return nil, err
		}
		code, last, text, ok := parseReplyLine(line)
		if !ok {
			return nil, errReplySyntax
		}
		if n == 0 {
			r.Code = code
			if enh, _, found := strings.Cut(text, " "); smtp.ValidEnhanced(enh, code) {
				r.Enhanced = enh
			} else if !found && smtp.ValidEnhanced(text, code) {
				r.Enhanced = text
			}
		} else if code != r.Code {
			return nil, errReplySyntax
		}
		if r.Enhanced != "" {
			if rest, ok := strings.CutPrefix(text, r.Enhanced); ok && (rest == "" || rest[0] == ' ') {
				text = strings.TrimPrefix(rest, " ")
			}
		}
		r.Lines = append(r.Lines, text)
		if last {
			return r, nil
		}
	}
}

// readReplyLine returns one line without its line ending, reading at most
// maxReplyLine bytes before giving up.
func readReplyLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > maxReplyLine+2 {
			return "", errReplyLineTooLong
		}
		line = append(line, frag...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	line = line[:len(line)-1]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) > maxReplyLine {
		return "", errReplyLineTooLong
	}
	return string(line), nil
}

// parseReplyLine splits "250-text", "250 text" or "250" (RFC 5321 §4.2).
// The code's first digit is 2 to 5, its second 0 to 5.
func parseReplyLine(line string) (code int, last bool, text string, ok bool) {
	if len(line) < 3 {
		return 0, false, "", false
	}
	d0, d1, d2 := line[0], line[1], line[2]
	if d0 < '2' || d0 > '5' || d1 < '0' || d1 > '5' || d2 < '0' || d2 > '9' {
		return 0, false, "", false
	}
	code = int(d0-'0')*100 + int(d1-'0')*10 + int(d2-'0')
	switch {
	case len(line) == 3:
		return code, true, "", true
	case line[3] == ' ':
		return code, true, line[4:], true
	case line[3] == '-':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// dotWriter turns message bytes into the DATA stream of RFC 5321 §4.5.2: a
// '.' is doubled at the start of every line, and every line ends in CRLF. A
// CR or LF that is not part of a CRLF pair also becomes CRLF, so downstream
// never sees a stray CR or LF (TESTPLAN row 3). Clean input is passed on in
// large runs: only the inserted dots and repaired line endings cut a run.
// Close writes the missing final CRLF, if any, and the ".\r\n" terminator.
type dotWriter struct {
	w   io.Writer
	bol bool // the next byte starts a line
	cr  bool // the previous Write ended in a CR that is not yet written
	err error
}

func newDotWriter(w io.Writer) *dotWriter { return &dotWriter{w: w, bol: true} }

var (
	crlf    = []byte("\r\n")
	dot     = []byte{'.'}
	dotCRLF = []byte(".\r\n")
)

func (d *dotWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := len(p)
	if n == 0 {
		return 0, nil
	}
	if d.cr {
		d.cr = false
		d.emit(crlf)
		d.bol = true
		if len(p) > 0 && p[0] == '\n' {
			p = p[1:]
		}
	}
	start := 0 // p[start:i] is verbatim output not yet written
	i := 0
	for i < len(p) && d.err == nil {
		if d.bol {
			d.bol = false
			if p[i] == '.' {
				d.emit(p[start:i])
				d.emit(dot)
				start = i // the original dot stays in the run
			}
		}
		j := bytes.IndexByte(p[i:], '\n')
		line := p[i:] // without the LF
		if j >= 0 {
			line = p[i : i+j]
		}
		k := bytes.IndexByte(line, '\r')
		switch {
		case k >= 0 && k == len(line)-1 && j < 0:
			// CR at the end of p: its LF, if any, comes with the next Write.
			d.emit(p[start : i+k])
			d.cr = true
			return n, d.err
		case k >= 0 && k < len(line)-1:
			// CR followed by something else than LF.
			d.emit(p[start : i+k])
			d.emit(crlf)
			i += k + 1
			start = i
			d.bol = true
		case j < 0:
			i = len(p)
		case k == len(line)-1 && k >= 0:
			// CRLF: keep it in the run.
			i += j + 1
			d.bol = true
		default:
			// LF without CR.
			d.emit(p[start : i+j])
			d.emit(crlf)
			i += j + 1
			start = i
			d.bol = true
		}
	}
	d.emit(p[start:])
	if d.err != nil {
		return 0, d.err
	}
	return n, nil
}

// Close ends the data: the last line gets its CRLF and the terminating
// ".\r\n" follows (RFC 5321 §4.1.1.4). It does not close the underlying
// writer.
func (d *dotWriter) Close() error {
	if d.cr || !d.bol {
		d.cr = false
		d.emit(crlf)
	}
	d.bol = true
	d.emit(dotCRLF)
	return d.err
}

func (d *dotWriter) emit(b []byte) {
	if d.err != nil || len(b) == 0 {
		return
	}
	_, d.err = d.w.Write(b)
}
