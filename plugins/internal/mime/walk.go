package mime

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Default limits. Postfix's mime_nesting_limit is 100; ten levels is already
// more than any mail client produces. RFC 2046 §5.1.1 caps a boundary at 70
// characters.
const (
	DefaultMaxDepth = 10
	DefaultMaxParts = 500
	MaxBoundaryLen  = 70
)

// The largest max_depth and max_parts a plugin's configuration may set.
const (
	MaxDepthLimit = 100    // Postfix's mime_nesting_limit default
	MaxPartsLimit = 100000 // parts in one message
)

// ConfigLimits checks a plugin's max_depth and max_parts settings, 0 for
// the defaults, and returns them as Limits; the error names the setting.
func ConfigLimits(maxDepth, maxParts int) (Limits, error) {
	switch {
	case maxDepth < 0 || maxDepth > MaxDepthLimit:
		return Limits{}, fmt.Errorf("max_depth %d: must be 1 to %d", maxDepth, MaxDepthLimit)
	case maxParts < 0 || maxParts > MaxPartsLimit:
		return Limits{}, fmt.Errorf("max_parts %d: must be 1 to %d", maxParts, MaxPartsLimit)
	}
	return Limits{MaxDepth: maxDepth, MaxParts: maxParts}, nil
}

// Limits bound the walk. A zero field takes its default.
type Limits struct {
	MaxDepth    int // deepest part allowed; the top level is depth 0
	MaxParts    int // parts in all, the top level included
	MaxBoundary int // longest multipart boundary, in bytes
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxBoundary <= 0 {
		l.MaxBoundary = MaxBoundaryLen
	}
	return l
}

// Errors Parse returns when the body exceeds a limit.
var (
	ErrTooDeep         = errors.New("mime: parts nested deeper than the limit")
	ErrTooManyParts    = errors.New("mime: more parts than the limit")
	ErrBoundaryTooLong = errors.New("mime: multipart boundary longer than the limit")
)

// Default media types of a part without Content-Type (RFC 2045 §5.2, RFC
// 2046 §5.1.5).
const (
	defaultType       = "text/plain"
	digestDefaultType = "message/rfc822"
)

// Part is one MIME entity. Offsets index the body passed to Parse: the
// part's header is body[Start:BodyStart] and its content
// body[BodyStart:End]. The CRLF before a boundary delimiter belongs to the
// delimiter (RFC 2046 §5.1.1), so it is not part of the content.
type Part struct {
	Header               Header // the message header for the top level
	Start, BodyStart     int
	End                  int
	Depth                int // 0 for the top level
	Parent               int // index in the slice Parse returns; -1 for the top level
	MediaType            string
	Params               map[string]string // Content-Type parameters, names lower-cased
	multipart, container bool
	unended              bool // see HeaderUnended
}

// Content returns the part's content, still transfer-encoded.
func (p *Part) Content(body []byte) []byte { return body[p.BodyStart:p.End] }

// IsMultipart reports whether the part is a multipart with a boundary.
func (p *Part) IsMultipart() bool { return p.multipart }

// HeaderUnended reports whether the part's header runs to the end of the
// part with no empty line after it, so the part has no body (RFC 2046
// §5.1.1 requires the empty line even when there are no header fields; an
// empty part lacks it too). Content is then empty, and anything written at
// End would be read as header fields: a writer must add the empty line
// first. Never true for the top level, whose header is the message's.
func (p *Part) HeaderUnended() bool { return p.unended }

// IsContainer reports whether Parse looked inside the part: a multipart with
// a boundary, or an encapsulated message in an identity encoding.
func (p *Part) IsContainer() bool { return p.container }

// Encoding returns the lower-cased Content-Transfer-Encoding, "" if none.
func (p *Part) Encoding() string {
	v, _ := p.Header.Get("Content-Transfer-Encoding")
	return strings.ToLower(v)
}

// Charset returns the lower-cased charset parameter, "" if none.
func (p *Part) Charset() string { return strings.ToLower(strings.Trim(p.Params["charset"], " \t")) }

// Disposition returns the lower-cased Content-Disposition type, "" if none.
func (p *Part) Disposition() string {
	v, ok := p.Header.Get("Content-Disposition")
	if !ok {
		return ""
	}
	typ, _ := ParseValue(v)
	return typ
}

// Filenames returns the part's file names; see the function Filenames.
func (p *Part) Filenames() []string { return Filenames(p.Header) }

// IsAttachment reports whether the part is meant as a file: its disposition
// is attachment (RFC 2183 §2.2) or it names a file.
func (p *Part) IsAttachment() bool {
	return p.Disposition() == "attachment" || len(p.Filenames()) > 0
}

// Parse walks the MIME structure of a message with header top and body
// body. It returns every part in document order (pre-order: a container
// before its children), the top level first.
//
// On a limit it returns ErrTooDeep, ErrTooManyParts or ErrBoundaryTooLong
// with every part found until then, still in document order, but some of
// them not expanded: the part that hit the limit keeps the children found
// before it (at most MaxParts parts in all, and for ErrTooDeep one level
// beyond MaxDepth), and their own content is not walked. A caller can still
// check those parts' headers.
//
// A
// missing Content-Type is text/plain (RFC 2045 §5.2), message/rfc822 inside
// multipart/digest (RFC 2046 §5.1.5); parts of message/rfc822 and
// message/global are walked when their encoding is an identity (RFC 2046
// §5.2.1).
func Parse(top Header, body []byte, lim Limits) ([]Part, error) {
	lim = lim.withDefaults()
	root := newPart(top, 0, 0, len(body), 0, -1, defaultType)
	var parts []Part
	stack := []Part{root}
	budget := lim.MaxParts - 1
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		idx := len(parts)
		parts = append(parts, p)
		kids, err := expand(body, &parts[idx], idx, lim, budget)
		if err != nil {
			// Hand back every part found, none of them expanded further:
			// the children found before the limit, then the parts still
			// waiting on the stack, in document order.
			parts = append(parts, kids...)
			for i := len(stack) - 1; i >= 0; i-- {
				parts = append(parts, stack[i])
			}
			return parts, err
		}
		budget -= len(kids)
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	return parts, nil
}

func newPart(h Header, start, bodyStart, end, depth, parent int, deflt string) Part {
	p := Part{Header: h, Start: start, BodyStart: bodyStart, End: end, Depth: depth, Parent: parent}
	if v, ok := h.Get("Content-Type"); ok {
		p.MediaType, p.Params = ParseValue(v)
	}
	if !strings.Contains(p.MediaType, "/") {
		// RFC 2045 §5.2: a missing or invalid Content-Type is the default.
		p.MediaType = deflt
	}
	if p.Params == nil {
		p.Params = map[string]string{}
	}
	return p
}

// expand returns the children of p (at index idx), at most budget of them.
// With an error it returns the children found before the limit.
func expand(body []byte, p *Part, idx int, lim Limits, budget int) ([]Part, error) {
	var (
		spans [][2]int
		err   error
	)
	deflt := defaultType
	switch {
	case strings.HasPrefix(p.MediaType, "multipart/"):
		boundary := p.Params["boundary"]
		if boundary == "" {
			return nil, nil // no way to split it: one opaque part
		}
		if len(boundary) > lim.MaxBoundary {
			return nil, ErrBoundaryTooLong
		}
		p.multipart, p.container = true, true
		spans, err = splitMultipart(body, p.BodyStart, p.End, boundary, budget)
		if p.MediaType == "multipart/digest" {
			deflt = digestDefaultType
		}
	case isEncapsulated(p.MediaType) && isIdentity(p.Encoding()):
		if budget < 1 {
			return nil, ErrTooManyParts
		}
		p.container = true
		spans = [][2]int{{p.BodyStart, p.End}}
	default:
		return nil, nil
	}
	if err == nil && len(spans) > 0 && p.Depth+1 > lim.MaxDepth {
		err = ErrTooDeep
	}
	kids := make([]Part, 0, len(spans))
	for _, s := range spans {
		h, bodyStart, ended := parseHeader(body, s[0], s[1])
		kid := newPart(h, s[0], bodyStart, s[1], p.Depth+1, idx, deflt)
		kid.unended = !ended
		kids = append(kids, kid)
	}
	return kids, err
}

// isEncapsulated reports whether a media type holds a whole message (RFC
// 2046 §5.2.1, RFC 6532 §3.7).
func isEncapsulated(mediaType string) bool {
	return mediaType == "message/rfc822" || mediaType == "message/global"
}

// isIdentity reports whether a Content-Transfer-Encoding leaves the content
// as it is (RFC 2045 §6.2); "" is 7bit.
func isIdentity(cte string) bool {
	return cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary"
}

// splitMultipart returns the spans of the body parts of the multipart
// content body[start:end] (RFC 2046 §5.1.1): the text between delimiter
// lines "--boundary", up to the close delimiter "--boundary--". A delimiter
// line starts a line and may end in transport padding (spaces and tabs); the
// CRLF before it belongs to it. The preamble and epilogue are not parts. A
// missing close delimiter ends the last part at end. More than budget parts
// is ErrTooManyParts, returned with the first budget spans as soon as the
// next delimiter is found, without scanning further.
func splitMultipart(b []byte, start, end int, boundary string, budget int) ([][2]int, error) {
	delim := []byte("--" + boundary)
	var spans [][2]int
	cur := -1 // start of the current part, -1 in the preamble
	for i := start; i < end; {
		j := bytes.Index(b[i:end], delim)
		if j < 0 {
			break
		}
		j += i
		if j != start && (j-start < 2 || b[j-2] != '\r' || b[j-1] != '\n') {
			i = j + 1 // not at the start of a line
			continue
		}
		k := j + len(delim)
		closing := k+1 < end && b[k] == '-' && b[k+1] == '-'
		if closing {
			k += 2
		}
		for k < end && (b[k] == ' ' || b[k] == '\t') {
			k++
		}
		lineEnd := k
		switch {
		case k == end:
		case k+1 < end && b[k] == '\r' && b[k+1] == '\n':
			lineEnd = k + 2
		default:
			i = j + 1 // "--boundary" followed by more text: not a delimiter
			continue
		}
		if cur >= 0 {
			partEnd := j
			if j-cur >= 2 {
				partEnd = j - 2
			}
			if len(spans) == budget {
				return spans, ErrTooManyParts
			}
			spans = append(spans, [2]int{cur, partEnd})
		}
		if closing {
			return spans, nil
		}
		cur, i = lineEnd, lineEnd
	}
	if cur >= 0 {
		if len(spans) == budget {
			return spans, ErrTooManyParts
		}
		spans = append(spans, [2]int{cur, end})
	}
	return spans, nil
}
