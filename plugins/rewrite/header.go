package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"errors"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// rewriteHeaders rewrites the addresses of From and Reply-To through the
// senders table and those of To and Cc through the recipients table.
func (p *rewriter) rewriteHeaders(h sluice.Host) {
	for i := 0; i < h.HeaderCount(); i++ {
		name, _ := h.HeaderName(i)
		var t table
		switch glob.Lower(name) {
		case "from", "reply-to":
			t = p.senders
		case "to", "cc":
			t = p.rcpts
		default:
			continue
		}
		if t.empty() {
			continue
		}
		v, _ := h.HeaderValue(i)
		nv, changed := rewriteField(h, name, v, t)
		if changed {
			h.ChangeHeader(i, nv)
		}
	}
}

// rewriteField returns v with every address of the list that t maps replaced,
// and whether anything changed. Bytes outside the replaced addresses are
// kept. Problems are logged and leave the field, or the element, alone.
func rewriteField(h sluice.Host, name, v string, t table) (string, bool) {
	spans, skipped, err := scanAddresses(v)
	if err != nil {
		sluice.Infof(h, "header %s left as is: %v", name, err)
		return v, false
	}
	if skipped > 0 {
		sluice.Infof(h, "header %s: %d element(s) of the address list not understood, left as is", name, skipped)
	}
	var b strings.Builder
	last, changed := 0, false
	for _, sp := range spans {
		addr := v[sp.start:sp.end]
		to, ok := t.lookup(addr)
		if !ok || to == addr {
			continue
		}
		b.WriteString(v[last:sp.start])
		b.WriteString(to)
		last, changed = sp.end, true
	}
	if !changed {
		return v, false
	}
	b.WriteString(v[last:])
	nv := b.String()
	if err := checkValue(name, nv); err != nil {
		sluice.Warnf(h, "header %s left as is: the host would refuse the rewritten value: %v", name, err)
		return v, false
	}
	return nv, true
}

// checkValue applies the host's rules for a new header value (sdk/ABI.md
// §4.4) to a rewritten one, so that a field the host would refuse, and the
// plugin error that would follow, is skipped instead: no NUL, CR and LF only
// as CRLF folding followed by a space or tab, no continuation line of white
// space only (RFC 5322 §3.2.2), no line rendered "Name: value" beyond 998
// bytes (§2.1.1). The parser accepts some received fields that break these
// rules (a bare CR, say); only the rewritten bytes are new.
func checkValue(name, v string) error {
	n := len(name) + 2 // "Name: "
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0:
			return errors.New("it contains NUL")
		case c == '\r':
			if !strings.HasPrefix(v[i:], "\r\n") || i+2 == len(v) || !isWSP(v[i+2]) {
				return errors.New("it contains CR or LF that is not folding")
			}
			if n > 998 {
				return errors.New("a line would exceed 998 bytes")
			}
			i++
			n = 0
			if strings.TrimLeft(v[i+1:], " \t") == "" || strings.HasPrefix(strings.TrimLeft(v[i+1:], " \t"), "\r") {
				return errors.New("it has a continuation line of white space only")
			}
			continue
		case c == '\n':
			return errors.New("it contains CR or LF that is not folding")
		}
		n++
	}
	if n > 998 {
		return errors.New("a line would exceed 998 bytes")
	}
	return nil
}
