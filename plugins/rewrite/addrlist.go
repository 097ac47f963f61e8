package main

import (
	"errors"
	"strings"
)

// span is the position of one address in a header value: v[start:end].
type span struct{ start, end int }

// tokKind is the kind of a lexical token of an address list.
type tokKind int

const (
	tWord    tokKind = iota // run of bytes that are not white space or specials
	tQuoted                 // "quoted string"
	tComment                // (comment), possibly nested
	tAngle                  // <angle address>
	tComma
	tColon
	tSemi
	tOther // any other special: ) > [ ] \
)

type token struct {
	kind       tokKind
	start, end int // v[start:end] is the whole token
}

// errStructure reports an address list whose structure the plugin cannot
// follow; the field is then left alone as a whole.
var errStructure = errors.New("unbalanced quote, comment or angle bracket, or a malformed group")

// scanAddresses finds the addresses of an address-list field value (RFC 5322
// §3.4) that can be replaced without touching any other byte: the addr-spec
// inside an angle-addr of a name-addr, and a bare addr-spec that is the whole
// element (comments around it allowed). Group members are scanned like any
// other element; the group's name is not. skipped counts the elements that
// are not one of those forms (a quoted or domain-literal address, a route,
// several words without angle brackets) and were left alone. An error means
// the value's structure could not be followed.
func scanAddresses(v string) (spans []span, skipped int, err error) {
	toks, err := tokenize(v)
	if err != nil {
		return nil, 0, err
	}
	inGroup := false
	var elem []token
	flush := func() {
		sp, ok := elementAddress(v, elem)
		switch {
		case sp != nil:
			spans = append(spans, *sp)
		case !ok:
			skipped++
		}
		elem = elem[:0]
	}
	for _, t := range toks {
		switch t.kind {
		case tComma:
			flush()
		case tColon:
			// group = display-name ":" [group-list] ";" (§3.4). The
			// tokens so far are the group's name: words, quoted
			// strings and comments only.
			if inGroup || !isPhrase(elem) {
				return nil, 0, errStructure
			}
			inGroup = true
			elem = elem[:0]
		case tSemi:
			if !inGroup {
				return nil, 0, errStructure
			}
			flush()
			inGroup = false
		default:
			elem = append(elem, t)
		}
	}
	if inGroup {
		return nil, 0, errStructure
	}
	flush()
	return spans, skipped, nil
}

// isPhrase reports whether toks hold at least one word or quoted string and
// nothing but words, quoted strings and comments.
func isPhrase(toks []token) bool {
	words := 0
	for _, t := range toks {
		switch t.kind {
		case tWord, tQuoted:
			words++
		case tComment:
		default:
			return false
		}
	}
	return words > 0
}

// elementAddress returns the span of the address of one list element, or
// nil. ok is false when the element is not empty and not understood; an
// element that is one word without '@' ("To: postmaster") is no address and
// is ok.
func elementAddress(v string, elem []token) (sp *span, ok bool) {
	var nc []token // the element without its comments
	for _, t := range elem {
		if t.kind != tComment {
			nc = append(nc, t)
		}
	}
	switch {
	case len(nc) == 0:
		return nil, true
	case len(nc) == 1 && nc[0].kind == tWord:
		// addr-spec on its own, or a word that is not an address.
		if !strings.Contains(v[nc[0].start:nc[0].end], "@") {
			return nil, true
		}
		if s := plainAddress(v, nc[0].start, nc[0].end); s != nil {
			return s, true
		}
		return nil, false
	case nc[len(nc)-1].kind == tAngle && (len(nc) == 1 || isPhrase(nc[:len(nc)-1])):
		// name-addr = [display-name] angle-addr
		a := nc[len(nc)-1]
		if s := plainAddress(v, a.start+1, a.end-1); s != nil {
			return s, true
		}
		return nil, false
	}
	return nil, false
}

// plainAddress returns the span of v[start:end] without surrounding white
// space if it is a plain address: word bytes only, with a non-empty local
// part and domain around its last '@'. Quoted local parts, domain literals,
// routes and comments inside angle brackets are not plain.
func plainAddress(v string, start, end int) *span {
	for start < end && isWSP(v[start]) {
		start++
	}
	for end > start && isWSP(v[end-1]) {
		end--
	}
	a := v[start:end]
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return nil
	}
	for i := 0; i < len(a); i++ {
		if !isWordByte(a[i]) {
			return nil
		}
	}
	return &span{start, end}
}

// tokenize splits an address list into tokens, skipping white space and
// folding. Quoted strings and comments honour backslash escapes (quoted-pair,
// RFC 5322 §3.2.1); comments nest (§3.2.2).
func tokenize(v string) ([]token, error) {
	var toks []token
	for i := 0; i < len(v); {
		c := v[i]
		kind, end := tOther, i+1
		var err error
		switch {
		case isWSP(c) || c == '\r' || c == '\n':
			i++
			continue
		case c == '(':
			kind = tComment
			end, err = skipComment(v, i)
		case c == '"':
			kind = tQuoted
			end, err = skipQuoted(v, i)
		case c == '<':
			kind = tAngle
			end, err = skipAngle(v, i)
		case c == ',':
			kind = tComma
		case c == ':':
			kind = tColon
		case c == ';':
			kind = tSemi
		case isWordByte(c):
			kind = tWord
			for end < len(v) && isWordByte(v[end]) {
				end++
			}
		}
		if err != nil {
			return nil, err
		}
		toks = append(toks, token{kind, i, end})
		i = end
	}
	return toks, nil
}

// skipComment returns the index after the comment that starts at v[i].
func skipComment(v string, i int) (int, error) {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, errStructure
}

// skipQuoted returns the index after the quoted string that starts at v[i].
func skipQuoted(v string, i int) (int, error) {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, errStructure
}

// skipAngle returns the index after the angle address that starts at v[i];
// a '>' inside a quoted local part does not end it.
func skipAngle(v string, i int) (int, error) {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '"':
			end, err := skipQuoted(v, i)
			if err != nil {
				return 0, err
			}
			i = end - 1
		case '<':
			return 0, errStructure
		case '>':
			return i + 1, nil
		}
	}
	return 0, errStructure
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// isWordByte reports whether c can be part of a word token: anything but
// controls, space and the specials ()<>[]:;\," (RFC 5322 §3.2.3). '@' and
// '.' are word bytes here so that an addr-spec is one word.
func isWordByte(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	return strings.IndexByte(`()<>[]:;\,"`, c) < 0
}
