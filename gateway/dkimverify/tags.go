package dkimverify

import (
	"bytes"
	"errors"
	"strings"
)

// tag is one tag=value pair of a tag-list (RFC 6376 §3.2), the name and
// value with the whitespace around them removed. start and end delimit
// the value as written (between the "=" and the ";" or the end), in the
// text given to parseTags.
type tag struct {
	name, value string
	start, end  int
}

// tagList is a parsed tag-list. err is set when the list is malformed: a
// part without "=" that is not empty, or a tag given twice. The tags are
// still all read (in order), for reporting a signature that failed.
type tagList struct {
	tags []tag
	err  error
}

// parseTags reads a tag-list leniently, as deployed verifiers do: any
// name is accepted (unknown tags are ignored by the callers), values are
// not checked here.
func parseTags(s []byte) tagList {
	var l tagList
	seen := map[string]bool{}
	pos := 0
	for pos <= len(s) {
		part := s[pos:]
		if i := bytes.IndexByte(part, ';'); i >= 0 {
			part = part[:i]
		}
		eq := bytes.IndexByte(part, '=')
		if eq < 0 {
			if len(bytes.TrimFunc(part, isSpace)) > 0 && l.err == nil {
				l.err = errors.New("a part without =")
			}
		} else {
			name := string(bytes.TrimFunc(part[:eq], isSpace))
			if seen[name] && l.err == nil {
				l.err = errors.New("duplicate tag " + printable(name))
			}
			seen[name] = true
			l.tags = append(l.tags, tag{
				name:  name,
				value: string(bytes.TrimFunc(part[eq+1:], isSpace)),
				start: pos + eq + 1,
				end:   pos + len(part),
			})
		}
		pos += len(part) + 1
	}
	return l
}

// get returns the value of the first tag named name.
func (l tagList) get(name string) (string, bool) {
	t, ok := l.find(name)
	return t.value, ok
}

// find returns the first tag named name.
func (l tagList) find(name string) (tag, bool) {
	for _, t := range l.tags {
		if t.name == name {
			return t, true
		}
	}
	return tag{}, false
}

// stripSpace removes all whitespace from a value (FWS may appear inside
// base64 and lists, RFC 6376 §3.2).
func stripSpace(s string) string {
	if strings.IndexFunc(s, isSpace) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isSpace(r) {
			return -1
		}
		return r
	}, s)
}

// colonList splits a colon-separated list (h= of a signature, h=, s= and
// t= of a key record, q=), whitespace removed from each element.
func colonList(s string) []string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		parts[i] = stripSpace(p)
	}
	return parts
}

// printable bounds s and replaces bytes outside printable ASCII, for
// reasons quoting the input.
func printable(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
