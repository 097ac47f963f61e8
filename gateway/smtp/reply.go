// Package smtp holds the SMTP wire primitives shared by the inbound server
// (gateway/smtpd) and the upstream client (gateway/upstream): replies, strict
// line and DATA framing, and dot-stuffed output. RFC 5321 sections are cited
// next to the code that implements them.
package smtp

import (
	"fmt"
	"strconv"
	"strings"
)

// Reply is one SMTP reply: a three-digit code, an optional enhanced status
// code (RFC 3463, "4.4.1") and one or more lines of text. A *Reply is also an
// error, so a downstream or plugin rejection travels as a value.
type Reply struct {
	Code     int
	Enhanced string
	Lines    []string
}

// NewReply returns a one-line reply.
func NewReply(code int, enhanced, text string) *Reply {
	return &Reply{Code: code, Enhanced: enhanced, Lines: []string{text}}
}

func (r *Reply) Error() string {
	return fmt.Sprintf("smtp reply %d %s %s", r.Code, r.Enhanced, strings.Join(r.Lines, " / "))
}

// Class is the first digit of the code: 2, 3, 4 or 5.
func (r *Reply) Class() int { return r.Code / 100 }

// Temporary reports a 4xx reply.
func (r *Reply) Temporary() bool { return r.Class() == 4 }

// Permanent reports a 5xx reply.
func (r *Reply) Permanent() bool { return r.Class() == 5 }

// Format renders the reply as it goes on the wire, CRLF-terminated, with the
// enhanced code repeated on every line (RFC 2034 §4).
func (r *Reply) Format() string {
	var b strings.Builder
	lines := r.Lines
	if len(lines) == 0 {
		lines = []string{""}
	}
	for i, l := range lines {
		b.WriteString(strconv.Itoa(r.Code))
		if i < len(lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		if r.Enhanced != "" {
			b.WriteString(r.Enhanced)
			if l != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// Sanitized returns a copy that is safe to send to a client: every byte
// outside printable ASCII becomes '?', lines are cut at 400 bytes, at most 8
// lines are kept, and an enhanced code whose class disagrees with the code is
// dropped. Use it on any text that came from outside (a downstream MTA).
func (r *Reply) Sanitized() *Reply {
	out := &Reply{Code: r.Code, Enhanced: r.Enhanced}
	if !ValidEnhanced(r.Enhanced, r.Code) {
		out.Enhanced = ""
	}
	out.Lines = make([]string, 0, min(len(r.Lines), 8))
	for i, l := range r.Lines {
		if i == 8 {
			break
		}
		out.Lines = append(out.Lines, sanitizeLine(l))
	}
	return out
}

// sanitizeLine keeps the first 400 bytes of l with every byte outside
// printable ASCII replaced by '?'. A clean line is returned as it is,
// without a copy: most replies are clean, and one is sanitized per command.
func sanitizeLine(l string) string {
	if len(l) > 400 {
		l = l[:400]
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; c < 0x20 || c > 0x7e {
			b := []byte(l)
			for j, c := range b[i:] {
				if c < 0x20 || c > 0x7e {
					b[i+j] = '?'
				}
			}
			return string(b)
		}
	}
	return l
}

// ValidEnhanced reports whether s is an enhanced status code
// "class.subject.detail" (RFC 3463 §2) whose class matches code's first digit.
func ValidEnhanced(s string, code int) bool {
	var parts [3]string
	rest := s
	for i := range parts {
		var ok bool
		parts[i], rest, ok = strings.Cut(rest, ".")
		if ok != (i < 2) {
			return false
		}
	}
	for i, p := range parts {
		if p == "" || len(p) > 3 || (i == 0 && len(p) != 1) {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return int(parts[0][0]-'0') == code/100 && (code/100 == 2 || code/100 == 4 || code/100 == 5)
}

// Replies Sluice itself gives. Text never carries Go error strings.
var (
	ReplyUnreachable   = NewReply(451, "4.4.1", "Downstream server unavailable, try again later")
	ReplyConnLost      = NewReply(451, "4.4.2", "Downstream connection lost, try again later")
	ReplyInternal      = NewReply(451, "4.3.0", "Temporary local problem, try again later")
	ReplyPolicyReject  = NewReply(550, "5.7.1", "Rejected by policy")
	ReplyPolicyDefer   = NewReply(451, "4.7.1", "Try again later")
	ReplyTimeout       = NewReply(421, "4.4.2", "Timeout, closing connection")
	ReplyShutdown      = NewReply(421, "4.3.2", "Service shutting down, closing connection")
	ReplyTooBig        = NewReply(552, "5.3.4", "Message size exceeds fixed limit")
	ReplyTooManyRcpts  = NewReply(452, "4.5.3", "Too many recipients")
	ReplyBareLF        = NewReply(500, "5.5.2", "Bare CR or LF not allowed, use CRLF")
	ReplyLineTooLong   = NewReply(500, "5.5.2", "Line too long")
	ReplyHeaderTooBig  = NewReply(552, "5.3.4", "Message header exceeds fixed limit")
	ReplyNULNotAllowed = NewReply(554, "5.6.0", "NUL characters not allowed")
	// TLS to the downstream is required (policy upstream.tls = "required")
	// and could not be had: STARTTLS not offered (X.7.4 "security features
	// not supported"), or refused, or the handshake or the certificate
	// failed (X.7.5 "cryptographic failure"), as Postfix's smtp client says
	// (RFC 3463 §3.8). Temporary: the downstream may be fixed.
	ReplyTLSUnavailable = NewReply(451, "4.7.4", "Downstream server does not offer required TLS, try again later")
	ReplyTLSFailed      = NewReply(451, "4.7.5", "TLS with downstream server failed, try again later")
)
