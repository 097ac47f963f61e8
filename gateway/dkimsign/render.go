package dkimsign

// The DKIM-Signature field is folded (RFC 5322 §2.2.3) so that lines stay
// within maxLine bytes where a tag allows it. FWS is allowed between tags,
// around the colons of h= and inside the base64 of b= (RFC 6376 §3.2, §3.5).
const (
	sigFieldName = "DKIM-Signature"
	maxLine      = 78 // RFC 5322 §2.1.1 SHOULD; 998 is the MUST
	foldSep      = "\r\n\t"
)

// folder builds a folded field value.
type folder struct {
	b       []byte
	lineLen int // bytes on the current line, including "Name: " on the first
}

func newFolder(name string) *folder {
	return &folder{lineLen: len(name) + 2}
}

// atom appends s, after a space when space is set, starting a new line
// first when s would not fit on this one (and this line has content).
func (f *folder) atom(s string, space bool) {
	n := len(s)
	if space {
		n++
	}
	if f.lineLen+n > maxLine && f.lineLen > 1 {
		f.b = append(f.b, foldSep...)
		f.lineLen = 1
		space = false
	}
	if space {
		f.b = append(f.b, ' ')
		f.lineLen++
	}
	f.b = append(f.b, s...)
	f.lineLen += len(s)
}

// newline starts a new line unconditionally.
func (f *folder) newline() {
	f.b = append(f.b, foldSep...)
	f.lineLen = 1
}

// base64 appends a base64 string, folded wherever a line fills up.
func (f *folder) base64(s string) {
	for len(s) > 0 {
		room := maxLine - f.lineLen
		if room <= 0 {
			f.newline()
			continue
		}
		if room > len(s) {
			room = len(s)
		}
		f.b = append(f.b, s[:room]...)
		f.lineLen += room
		s = s[room:]
	}
}

// tag is one tag=value pair of the signature.
type tag struct{ name, value string }

// renderUnsigned renders the tags, the h= list after them, then bh= and
// finally "b=" on a line of its own; the signature value is appended later
// with base64. The result is exactly the field value a verifier rebuilds by
// deleting the b= value (RFC 6376 §3.7), so it is what gets hashed. bh= is
// followed by ";" so that no verifier's b= pattern can match inside it.
func renderUnsigned(tags []tag, headerList []string, bodyHash string) *folder {
	f := newFolder(sigFieldName)
	for i, t := range tags {
		f.atom(t.name+"="+t.value+";", i > 0)
	}
	for i, h := range headerList {
		s := h
		if i == 0 {
			s = "h=" + s
		}
		if i == len(headerList)-1 {
			s += ";"
		} else {
			s += ":"
		}
		f.atom(s, i == 0)
	}
	f.atom("bh="+bodyHash+";", true)
	f.newline()
	f.atom("b=", false)
	return f
}
