package main

import (
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// OnData adds the configured fields and prefixes the Subject.
func (p *tagger) OnData(h sluice.Host) sluice.Verdict {
	for _, f := range p.fields {
		if !hasField(h, f.name, f.value) {
			h.AddHeader(f.name, f.value)
		}
	}
	if p.prefix != "" {
		p.prefixSubject(h)
	}
	return sluice.VerdictContinue
}

// hasField reports whether a field with this name (case-insensitive) and
// exactly this value is already present.
func hasField(h sluice.Host, name, value string) bool {
	for nth := 0; ; nth++ {
		i, ok := h.FindHeader(name, nth)
		if !ok {
			return false
		}
		if v, _ := h.HeaderValue(i); v == value {
			return true
		}
	}
}

func (p *tagger) prefixSubject(h sluice.Host) {
	i, ok := h.FindHeader("Subject", 0)
	if !ok {
		return
	}
	v, _ := h.HeaderValue(i)
	nv, ok := p.prefixed(v)
	if !ok {
		return
	}
	// The host folds a line the prefix makes longer than 998 bytes
	// (sdk/ABI.md §4.4), so any Subject can be tagged.
	h.ChangeHeader(i, nv)
}

// prefixed returns the Subject value with the prefix inserted after its
// leading whitespace and folding, or ok=false when it is already there.
func (p *tagger) prefixed(v string) (string, bool) {
	lead := leadingFWS(v)
	text := v[len(lead):]
	if len(text) >= len(p.match) && strings.EqualFold(text[:len(p.match)], p.match) {
		return "", false
	}
	prefix := p.prefix
	// RFC 2047 §5: an encoded-word must be separated from other text by
	// whitespace, or a reader no longer decodes it.
	if strings.HasPrefix(text, "=?") && !strings.HasSuffix(prefix, " ") && !strings.HasSuffix(prefix, "\t") {
		prefix += " "
	}
	return lead + prefix + text, true
}

// leadingFWS returns the folding white space (RFC 5322 §3.2.2) at the start
// of v: spaces, tabs and CRLFs followed by whitespace.
func leadingFWS(v string) string {
	i := 0
	for i < len(v) {
		switch {
		case v[i] == ' ' || v[i] == '\t':
			i++
		case strings.HasPrefix(v[i:], "\r\n"):
			i += 2
		default:
			return v[:i]
		}
	}
	return v[:i]
}
