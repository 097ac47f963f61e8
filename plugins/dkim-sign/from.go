package main

import (
	"net/mail"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// fromDomain returns the domain of the address in a From field value
// (RFC 5322 §3.6.2), lower-cased without a trailing dot; "" when the value
// holds no address, or mailboxes of more than one domain. Display names,
// comments and angle brackets are handled by net/mail; a value it refuses
// (a display name with a stray special, say) is read leniently: comments
// removed, then the last <...> or the rest taken as the address.
func fromDomain(value string) string {
	if d, ok := simpleFromDomain(value); ok {
		return d
	}
	v := strings.ReplaceAll(value, "\r\n", "") // unfold (RFC 5322 §2.2.3)
	var addrs []string
	if list, err := mail.ParseAddressList(v); err == nil {
		for _, a := range list {
			addrs = append(addrs, a.Address)
		}
	} else if a := lenientAddress(v); a != "" {
		addrs = append(addrs, a)
	}
	domain := ""
	for i, a := range addrs {
		d := sluice.Domain(a)
		if d == "" || (i > 0 && d != domain) {
			return ""
		}
		domain = d
	}
	return domain
}

// lenientAddress extracts an addr-spec from a From value net/mail could not
// parse: comments are dropped (outside quoted strings), then the content of
// the last angle brackets, or else the whole trimmed value, is the address
// when it has an '@' and no whitespace.
func lenientAddress(v string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
		case quoted:
			quoted = c != '"'
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		default:
			quoted = c == '"'
			b.WriteByte(c)
		}
	}
	s := strings.TrimSpace(b.String())
	if open := strings.LastIndexByte(s, '<'); open >= 0 {
		end := strings.IndexByte(s[open:], '>')
		if end < 0 {
			return ""
		}
		s = strings.TrimSpace(s[open+1 : open+end])
	}
	if !strings.Contains(s, "@") || strings.ContainsAny(s, " \t<>") {
		return ""
	}
	return s
}

// simpleFromDomain reads the common forms "local@domain" and "Name
// <local@domain>" in one pass, without net/mail's parser, which costs
// about a hundred times more in a WebAssembly guest (every loop iteration
// pays the host's deadline check). ok is false for anything else: folding,
// comments, quoted strings, groups, lists, escapes; net/mail reads those.
func simpleFromDomain(v string) (string, bool) {
	at, open, end := -1, -1, -1
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '@':
			at = i
		case '<':
			if open >= 0 {
				return "", false
			}
			open = i
		case '>':
			if open < 0 || end >= 0 {
				return "", false
			}
			end = i
		case '(', ')', '"', ',', ':', ';', '\\', '\r', '\n', '[', ']':
			return "", false
		}
	}
	if open >= 0 && (end < 0 || strings.TrimSpace(v[end+1:]) != "" || at < open || at > end) {
		return "", false
	}
	if open < 0 {
		if at < 0 || strings.ContainsAny(strings.TrimSpace(v), " \t") {
			return "", false
		}
		end = len(strings.TrimRight(v, " \t"))
	}
	local := v[open+1 : at]
	if local == "" || strings.IndexByte(local, '@') >= 0 || strings.ContainsAny(local, " \t") {
		return "", false
	}
	d := v[at+1 : end]
	if d == "" || strings.ContainsAny(d, " \t") {
		return "", false
	}
	return sluice.Domain("x@" + d), true
}
