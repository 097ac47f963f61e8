package smtp

import "errors"

// Framing and content errors reported by ReadLine, ReadData and ReadReply.
// They describe what the peer sent, never an I/O failure: those are returned
// as the underlying reader's error (io.EOF, io.ErrUnexpectedEOF, a timeout).
var (
	// ErrLineTooLong: a line exceeded the limit. ReadLine has discarded the
	// rest of it (bounded, see ReadLine).
	ErrLineTooLong = errors.New("smtp: line too long")
	// ErrBareLF: an LF not preceded by CR (RFC 5321 §2.3.8, §4.1.1.4).
	ErrBareLF = errors.New("smtp: bare LF")
	// ErrBareCR: a CR not followed by LF (RFC 5321 §2.3.8).
	ErrBareCR = errors.New("smtp: bare CR")
	// ErrNUL: a NUL byte (RFC 5321 §4.1.1.4 forbids it in DATA; we refuse it
	// everywhere).
	ErrNUL = errors.New("smtp: NUL byte")
	// ErrTooBig: the message exceeded DataOptions.MaxSize. The data was read
	// up to its end, so the session can continue.
	ErrTooBig = errors.New("smtp: message too big")
	// ErrDataOverrun: ReadData gave up after DataOptions.MaxConsume bytes
	// without finding the end of data; the stream is out of sync and the
	// connection must be closed.
	ErrDataOverrun = errors.New("smtp: end of data not found within limit")
	// ErrBadReply: a reply that is not valid RFC 5321 §4.2 syntax, or one
	// that exceeds the reply limits. It is joined with the detailed cause.
	ErrBadReply = errors.New("smtp: malformed reply")
)

// IsFramingError reports whether err means the peer's line framing cannot be
// trusted (bare CR, bare LF): a server closes after replying to it.
func IsFramingError(err error) bool {
	return errors.Is(err, ErrBareCR) || errors.Is(err, ErrBareLF)
}
