package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/sluice-mail/sluice/plugins/internal/mime"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// edit replaces body[start:end] with data; start == end is an insertion.
type edit struct {
	start, end int
	data       []byte
}

// OnData adds the footer to every text part of the message that is not an
// attachment. The footer never stops a message: when it cannot be added,
// the plugin logs why and lets the message pass unchanged.
func (p *footer) OnData(h sluice.Host) sluice.Verdict {
	body := make([]byte, h.BodySize())
	if _, err := io.ReadFull(sluice.Body(h), body); err != nil {
		sluice.Errorf(h, "footer not added: reading the body: %v", err)
		return sluice.VerdictContinue
	}
	top := mime.HostHeader(h)
	parts, err := mime.Parse(top, body, p.limits)
	if err != nil {
		sluice.Warnf(h, "footer not added: %s", mime.LimitReason(err))
		return sluice.VerdictContinue
	}
	var edits []edit
	for i := range parts {
		if !p.wants(h, parts, i) {
			continue
		}
		e, err := p.footPart(body, &parts[i])
		if errors.Is(err, errPresent) {
			continue
		}
		if err != nil {
			sluice.Infof(h, "footer not added to part %d (%s): %v", i, parts[i].MediaType, err)
			continue
		}
		edits = append(edits, e)
	}
	if len(edits) == 0 {
		return sluice.VerdictContinue
	}
	out := apply(body, edits)
	if err := checkBody(out); err != nil {
		// The original body breaks a rule the host enforces on a new one:
		// changing it would be a plugin error, so leave it alone.
		sluice.Warnf(h, "footer not added: %v", err)
		return sluice.VerdictContinue
	}
	if after, err := mime.Parse(top, out, p.limits); err != nil || !sameStructure(parts, after, body, out) {
		// Say a footer line is "--" and a boundary: the footer would
		// split or end a multipart. Boundaries and parts never change.
		sluice.Warnf(h, "footer not added: it would change the message's MIME structure (a footer line reads as a boundary)")
		return sluice.VerdictContinue
	}
	if e := edits[0]; len(edits) == 1 && e.start == len(body) && e.end == len(body) {
		h.AppendBody(e.data)
	} else {
		h.ReplaceBody(out)
	}
	return sluice.VerdictContinue
}

// wants reports whether part i should get a footer: a text/plain or
// text/html leaf that is not an attachment, and not inside an encapsulated
// message (it belongs to its own author) or a signed or encrypted multipart
// (RFC 1847: a change breaks the signature).
func (p *footer) wants(h sluice.Host, parts []mime.Part, i int) bool {
	part := &parts[i]
	if part.IsContainer() || (part.MediaType != "text/plain" && part.MediaType != "text/html") || part.IsAttachment() {
		return false
	}
	for a := part.Parent; a >= 0; a = parts[a].Parent {
		switch t := parts[a].MediaType; t {
		case "message/rfc822", "message/global":
			return false
		case "multipart/signed", "multipart/encrypted":
			sluice.Infof(h, "footer not added to part %d: it is inside %s", i, t)
			return false
		}
	}
	return true
}

// sameStructure reports whether two walks of a message, a over body ba and
// b over bb, found the same parts: same nesting, media types, parameters
// (boundaries included) and header fields, and the same bytes between the
// parts (delimiter lines, preambles, epilogues), so no delimiter moved.
func sameStructure(a, b []mime.Part, ba, bb []byte) bool {
	return slices.EqualFunc(a, b, func(x, y mime.Part) bool {
		return x.Depth == y.Depth && x.Parent == y.Parent && x.MediaType == y.MediaType &&
			x.IsContainer() == y.IsContainer() && maps.Equal(x.Params, y.Params) && slices.Equal(x.Header, y.Header)
	}) && bytes.Equal(skeleton(a, ba), skeleton(b, bb))
}

// skeleton returns the bytes of body that are in a container's content but
// in none of its children, each stretch followed by a NUL (which a body
// never holds, sdk/ABI.md §4.5). The CRLF that starts a stretch after a
// child is left out: it belongs to the next delimiter, which back to back
// delimiters share with the one before (see endHeader).
func skeleton(parts []mime.Part, body []byte) []byte {
	var out []byte
	cursor := make([]int, len(parts)) // per container: end of the last child seen
	gap := func(container, end int) {
		b := body[cursor[container]:end]
		if cursor[container] != parts[container].BodyStart {
			b = bytes.TrimPrefix(b, []byte(crlf))
		}
		out = append(append(out, b...), 0)
	}
	for i := range parts {
		cursor[i] = parts[i].BodyStart
		if pa := parts[i].Parent; pa >= 0 {
			gap(pa, parts[i].Start)
			cursor[pa] = parts[i].End
		}
	}
	for i := range parts {
		if parts[i].IsContainer() {
			gap(i, parts[i].End)
		}
	}
	return out
}

// apply returns body with the edits, which are in order and do not overlap.
func apply(body []byte, edits []edit) []byte {
	n := len(body)
	for _, e := range edits {
		n += len(e.data) - (e.end - e.start)
	}
	out := make([]byte, 0, n)
	pos := 0
	for _, e := range edits {
		out = append(out, body[pos:e.start]...)
		out = append(out, e.data...)
		pos = e.end
	}
	return append(out, body[pos:]...)
}

// checkBody checks the rules the host applies to a new body (sdk/ABI.md
// §4.5): no NUL, CR and LF only as CRLF, lines at most 998 bytes.
func checkBody(b []byte) error {
	line := 0
	for i, c := range b {
		switch {
		case c == 0:
			return errors.New("the body contains NUL")
		case c == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return errors.New("the body contains a bare CR")
			}
		case c == '\n':
			if i == 0 || b[i-1] != '\r' {
				return errors.New("the body contains a bare LF")
			}
			line = 0
			continue
		}
		if c != '\r' {
			line++
			if line > maxLineLen {
				return fmt.Errorf("the body has a line longer than %d bytes", maxLineLen)
			}
		}
	}
	return nil
}

// crlf is the line break of a message body.
const crlf = "\r\n"

// endsWithNewline reports whether b ends with a line break.
func endsWithNewline(b []byte) bool { return bytes.HasSuffix(b, []byte("\n")) }
