package main

import (
	"strconv"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// removeFields deletes the incoming Authentication-Results fields that
// claim our authserv-id (RFC 8601 §5: a border MTA removes them, or
// downstream would trust a forgery), or all of them with remove_foreign.
func (p *authResults) removeFields(h sluice.Host) {
	// The host finds the fields (case-insensitively): asking for each
	// field's name would cost a call per field.
	var found []int
	for n := 0; ; n++ {
		i, ok := h.FindHeader(fieldName, n)
		if !ok {
			break
		}
		found = append(found, i)
	}
	ours, foreign := 0, 0
	for k := len(found) - 1; k >= 0; k-- { // from the bottom: deleting keeps earlier indexes
		i := found[k]
		v, _ := h.HeaderValue(i)
		mine := strings.EqualFold(strings.TrimSuffix(authservID(v), "."), p.id)
		if !mine && !p.removeForeign {
			continue
		}
		h.DeleteHeader(i)
		if mine {
			ours++
		} else {
			foreign++
		}
	}
	if ours > 0 {
		h.Log(sluice.LevelInfo, "removed "+strconv.Itoa(ours)+" incoming "+fieldName+" field(s) claiming our authserv-id "+p.id)
	}
	if foreign > 0 {
		h.Log(sluice.LevelDebug, "removed "+strconv.Itoa(foreign)+" incoming "+fieldName+" field(s) of other servers")
	}
}

// authservID returns the authserv-id of an Authentication-Results value:
// the first value (token or quoted-string) after optional comments and
// folding whitespace (RFC 8601 §2.2, RFC 5322 §3.2.2).
func authservID(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "")
	i := skipCFWS(v, 0)
	if i < len(v) && v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v) && v[i] != '"'; i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	j := i
	for j < len(v) && !strings.ContainsRune(" \t;(\"", rune(v[j])) {
		j++
	}
	return v[i:j]
}

// skipCFWS returns the index of the first byte at or after i that is
// neither whitespace nor inside a comment; comments nest and may hold
// quoted pairs.
func skipCFWS(v string, i int) int {
	depth := 0
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++
		case depth > 0, c == ' ', c == '\t':
		default:
			return i
		}
	}
	return i
}
