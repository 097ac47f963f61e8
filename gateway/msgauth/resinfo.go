package msgauth

import (
	"strings"

	"github.com/sluice-mail/sluice/gateway/authres"
)

// The result list of an RFC 8601 Authentication-Results field, rendered in
// the host: a plugin only adds its authserv-id. Values from the message or
// DNS are reduced to what the field's syntax allows; the plugin's own code
// would pay the sandbox's per-call deadline check on every byte.

const (
	// maxLine is the line length RFC 5322 §2.1.1 asks for; the list is
	// folded to stay within it where the values allow.
	maxLine = 78
	// maxComment is the longest reason put in a comment; longer ones are
	// left out rather than cut.
	maxComment = 64
)

// Format renders r as RFC 8601 §2.2 resinfo elements, in the order dkim,
// spf, dmarc: "method=result", an optional "(reason)" comment, then
// "ptype.property=value" words. They are separated by ";" and folded with
// CRLF TAB: each starts on a line of its own, and a word that would take
// its line beyond 78 bytes starts a new one. An empty r gives "".
//
// A field is then "Authentication-Results: " + authserv-id + ";" + CRLF TAB
// + Format(), or authserv-id + "; none" for an empty list.
func (r Result) Format() string {
	infos := r.resinfos()
	var b strings.Builder
	for i, words := range infos {
		if i > 0 {
			b.WriteString("\r\n\t")
		}
		line := 1 // the TAB before it
		for j, w := range words {
			if j == len(words)-1 && i < len(infos)-1 {
				w += ";"
			}
			if j > 0 {
				if line+1+len(w) > maxLine {
					b.WriteString("\r\n\t")
					line = 1
				} else {
					b.WriteByte(' ')
					line++
				}
			}
			b.WriteString(w)
			line += len(w)
		}
	}
	return b.String()
}

// resinfos returns the results as lists of words.
func (r Result) resinfos() [][]string {
	var out [][]string
	for _, d := range r.DKIM {
		out = append(out, resinfo("dkim", d.Result, d.Reason,
			"header.d", authres.Value(d.Domain), "header.s", authres.Value(d.Selector), "header.b", authres.Value(d.Signature)))
	}
	if s := r.SPF; s != nil {
		ptype, v := "smtp.mailfrom", authres.Value(s.Sender)
		if s.Identity == "helo" || v != s.Sender || !isAddr(v) {
			// RFC 8601 §2.7.2: the HELO name for the null sender; the
			// domain when the address would not survive unchanged.
			v = authres.Value(s.Domain)
			if s.Identity == "helo" {
				ptype = "smtp.helo"
			}
		}
		out = append(out, resinfo("spf", s.Result, s.Reason, ptype, v))
	}
	if m := r.DMARC; m != nil {
		out = append(out, resinfo("dmarc", m.Result, m.Reason, "header.from", authres.Value(m.FromDomain)))
	}
	return out
}

// resinfo is one result's words; props are property/value pairs, those
// with an empty value left out.
func resinfo(method, result, reason string, props ...string) []string {
	w := []string{method + "=" + authres.Keyword(result)}
	if c := comment(reason); c != "" {
		w = append(w, "("+c+")")
	}
	for i := 0; i+1 < len(props); i += 2 {
		if props[i+1] != "" {
			w = append(w, props[i]+"="+pvalue(props[i+1]))
		}
	}
	return w
}

// Byte classes.
const (
	clsToken   = 1 << iota // a MIME token byte (RFC 2045 §5.1)
	clsAtext               // a dot-atom atext byte (RFC 5322 §3.2.3)
	clsLabel               // a domain label byte: letters, digits, '-', '_'
	clsComment             // kept in a comment: printable ASCII and tab except ;()"\
)

// tspecials are the bytes a MIME token may not hold (RFC 2045 §5.1).
const tspecials = `()<>@,;:\"/[]?=`

// classes is the class set of each byte; built once, never changed.
var classes = func() (t [256]uint8) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] |= clsToken | clsComment
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			t[c] |= clsAtext | clsLabel
		}
	}
	t[' '] |= clsComment
	t['\t'] |= clsComment
	for _, c := range []byte(`;()"\`) {
		t[c] &^= clsComment
	}
	for _, c := range []byte(tspecials) {
		t[c] &^= clsToken
	}
	for _, c := range []byte("!#$%&'*+-/=?^_`{|}~") {
		t[c] |= clsAtext
	}
	t['-'] |= clsLabel
	t['_'] |= clsLabel
	return t
}()

// pvalue writes an authres.Value as RFC 8601 §2.2 pvalue: bare when it is a
// MIME token (RFC 2045 §5.1) or [local-part "@"] domain-name, else quoted; Value
// left no '"' or '\' to escape.
func pvalue(v string) string {
	if isToken(v) || isAddr(v) {
		return v
	}
	return `"` + v + `"`
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if classes[s[i]]&clsToken == 0 {
			return false
		}
	}
	return true
}

// isAddr reports whether s is [[local-part] "@"] domain-name with a
// dot-atom local part (RFC 5322 §3.4.1) and a domain of letters, digits,
// hyphens and underscores.
func isAddr(s string) bool {
	domain := s
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		local := s[:at]
		domain = s[at+1:]
		if local != "" && !dotted(local, clsAtext) {
			return false
		}
	}
	return dotted(domain, clsLabel)
}

// dotted reports whether s is non-empty labels of bytes of class cls,
// separated by single dots.
func dotted(s string, cls uint8) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
			continue
		}
		if classes[c]&cls == 0 {
			return false
		}
	}
	return true
}

// comment returns a reason fit for a comment: at most maxComment bytes of
// printable ASCII (a tab counts as a space), without ;()"\ and with runs of
// spaces collapsed; "" for a reason that is longer or not printable.
func comment(reason string) string {
	if len(reason) > maxComment {
		return ""
	}
	b := make([]byte, 0, len(reason))
	for i := 0; i < len(reason); i++ {
		c := reason[i]
		if (c < ' ' && c != '\t') || c > '~' {
			return ""
		}
		if classes[c]&clsComment != 0 {
			b = append(b, c)
		}
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
