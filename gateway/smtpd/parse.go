package smtpd

import (
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

// maxPathLength is the longest address accepted: RFC 5321 §4.5.3.1.3 allows
// 256 octets for a path, angle brackets included.
const maxPathLength = 254

// splitCommand splits a command line into its upper-cased verb and the
// argument after it, surrounding spaces trimmed (RFC 5321 §4.1.1: verbs are
// case-insensitive).
func splitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), strings.Trim(arg, " ")
}

// validHeloName accepts a domain or address literal (RFC 5321 §4.1.1.1)
// loosely: printable ASCII without spaces, at most 255 bytes.
func validHeloName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// pathKind distinguishes MAIL FROM from RCPT TO: the null path and the error
// codes differ (RFC 3463 §3.2: 5.1.7 sender, 5.1.3 recipient).
type pathKind int

const (
	senderPath pathKind = iota
	recipientPath
)

// badAddress is the 501 reply for an unusable address.
func (k pathKind) badAddress() *smtp.Reply {
	if k == senderPath {
		return smtp.NewReply(501, "5.1.7", "Bad sender address syntax")
	}
	return smtp.NewReply(501, "5.1.3", "Bad recipient address syntax")
}

var replyNonASCII = smtp.NewReply(553, "5.6.7", "Non-ASCII addresses are not supported")

// parsePath parses the argument of MAIL ("FROM:<path> params") or RCPT
// ("TO:<path> params"): RFC 5321 §4.1.1.2, §4.1.1.3, §4.1.2. The keyword is
// case-insensitive and spaces after the colon are tolerated. A source route
// ("<@a,@b:u@d>", §C) is dropped. It returns the address without brackets
// and the parameters as separate words, or the reply to send.
func parsePath(arg, keyword string, kind pathKind) (addr string, params []string, rep *smtp.Reply) {
	form := "MAIL FROM:<address>"
	if kind == recipientPath {
		form = "RCPT TO:<address>"
	}
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", nil, syntax(form)
	}
	s := strings.TrimLeft(arg[len(keyword):], " ")
	if s == "" || s[0] != '<' {
		return "", nil, syntax(form)
	}
	end := closingBracket(s)
	if end < 0 {
		return "", nil, syntax(form)
	}
	addr, rest := s[1:end], s[end+1:]
	if rest != "" && rest[0] != ' ' {
		return "", nil, syntax(form)
	}
	params = strings.Fields(rest)
	if strings.HasPrefix(addr, "@") {
		i := strings.IndexByte(addr, ':')
		if i < 0 {
			return "", nil, kind.badAddress()
		}
		addr = addr[i+1:]
	}
	if rep := checkAddress(addr, kind); rep != nil {
		return "", nil, rep
	}
	return addr, params, nil
}

// closingBracket finds the '>' ending the path that s starts with, skipping
// quoted strings of the local part; -1 if there is none.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			return i
		}
	}
	return -1
}

// checkAddress validates a mailbox "local@domain" (RFC 5321 §4.1.2): a
// dot-atom or quoted local part, a domain or address literal. "" is the null
// sender (MAIL only); a recipient may be a bare "postmaster" (§4.5.1).
func checkAddress(addr string, kind pathKind) *smtp.Reply {
	if addr == "" {
		if kind == senderPath {
			return nil
		}
		return kind.badAddress()
	}
	if len(addr) > maxPathLength {
		return kind.badAddress()
	}
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if c >= 0x80 {
			return replyNonASCII
		}
		if c <= ' ' || c == 0x7f {
			return kind.badAddress()
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		if kind == recipientPath && strings.EqualFold(addr, "postmaster") {
			return nil
		}
		return kind.badAddress()
	}
	if !validLocalPart(addr[:at]) || !validDomain(addr[at+1:]) {
		return kind.badAddress()
	}
	return nil
}

// validLocalPart accepts a dot-atom or a quoted string (RFC 5321 §4.1.2).
func validLocalPart(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '"' {
		if len(s) < 2 || s[len(s)-1] != '"' {
			return false
		}
		for i := 1; i < len(s)-1; i++ {
			switch s[i] {
			case '\\':
				i++
				if i == len(s)-1 {
					return false
				}
			case '"':
				return false
			}
		}
		return true
	}
	return dotAtom(s, isAtext)
}

// validDomain accepts a hostname or an address literal "[...]".
func validDomain(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	if s[0] == '[' {
		if len(s) < 3 || s[len(s)-1] != ']' {
			return false
		}
		return !strings.ContainsAny(s[1:len(s)-1], "[]\\")
	}
	return dotAtom(s, func(c byte) bool {
		return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	})
}

// dotAtom reports whether s is non-empty runs of ok bytes separated by
// single dots.
func dotAtom(s string, ok func(byte) bool) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !ok(s[i]) {
			return false
		}
	}
	return true
}

// isAtext is RFC 5322 §3.2.3 atext.
func isAtext(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// mailParams validates MAIL parameters. Only what we advertise is accepted:
// SIZE (RFC 1870) and BODY (RFC 6152). SMTPUTF8 (RFC 6531) is not offered, so
// it is refused like any other (RFC 5321 §4.1.1.11: 555). It returns the
// declared size (0 if none).
func mailParams(params []string, maxSize int64) (size int64, rep *smtp.Reply) {
	seen := map[string]bool{}
	for _, p := range params {
		key, value, hasValue := strings.Cut(p, "=")
		key = strings.ToUpper(key)
		if seen[key] {
			return 0, smtp.NewReply(501, "5.5.4", "Duplicate "+key+" parameter")
		}
		seen[key] = true
		switch key {
		case "SIZE":
			if !hasValue || value == "" || strings.Trim(value, "0123456789") != "" {
				return 0, smtp.NewReply(501, "5.5.4", "Bad SIZE parameter")
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n > maxSize { // only ErrRange is possible
				return 0, smtp.ReplyTooBig
			}
			size = n
		case "BODY":
			if v := strings.ToUpper(value); !hasValue || (v != "7BIT" && v != "8BITMIME") {
				return 0, smtp.NewReply(501, "5.5.4", "Bad BODY parameter")
			}
		case "SMTPUTF8":
			return 0, smtp.NewReply(555, "5.5.4", "SMTPUTF8 is not supported")
		default:
			return 0, smtp.NewReply(555, "5.5.4", "Unsupported parameter")
		}
	}
	return size, nil
}

// rcptParams refuses every RCPT parameter: we advertise none (no DSN).
func rcptParams(params []string) *smtp.Reply {
	if len(params) > 0 {
		return smtp.NewReply(555, "5.5.4", "Unsupported parameter")
	}
	return nil
}
