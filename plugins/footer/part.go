package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"slices"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/mime"
)

// errPresent says the part already has the footer: nothing to do, nothing
// to log.
var errPresent = errors.New("the footer is already there")

// b64Line is the length of a base64 line (RFC 2045 §6.8 allows at most 76).
const b64Line = 76

// footPart returns the edit that adds the footer to a text part, or why it
// cannot. The part's header is never changed: its content is re-encoded in
// its own transfer encoding.
func (p *footer) footPart(body []byte, part *mime.Part) (edit, error) {
	isHTML := part.MediaType == "text/html"
	foot, ascii := p.text, p.textASCII
	if isHTML {
		foot, ascii = p.html, p.htmlASCII
	}
	if cs := part.Charset(); !ascii && cs != "" && cs != "us-ascii" && cs != "utf-8" && cs != "utf8" {
		return edit{}, fmt.Errorf("charset %s, and the footer is not ASCII", cs)
	}
	raw := part.Content(body)
	cte := part.Encoding()
	var decoded []byte
	identity := false
	switch cte {
	case "", "7bit", "8bit", "binary":
		decoded, identity = raw, true
	case "quoted-printable":
		d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return edit{}, fmt.Errorf("quoted-printable content does not decode: %v", err)
		}
		decoded = d
	case "base64":
		d, err := decodeBase64(raw)
		if err != nil {
			return edit{}, fmt.Errorf("base64 content does not decode: %v", err)
		}
		decoded = d
	default:
		return edit{}, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
	}

	nl := "\r\n"
	if !bytes.Contains(decoded, []byte(crlf)) && bytes.Contains(decoded, []byte("\n")) {
		nl = "\n" // decoded text with bare LF line ends (base64 from Unix)
	}
	foot = strings.ReplaceAll(foot, "\r\n", nl)
	if bytes.Contains(decoded, []byte(foot)) {
		return edit{}, errPresent
	}

	// Where the footer goes in the decoded text: before </body> in HTML,
	// else at the end.
	at := len(decoded)
	if isHTML {
		if i := lastIndexFold(decoded, "</body"); i >= 0 {
			at = i
		}
	}
	// pre starts the footer on a line of its own; post ends it with a line
	// break when text follows or the text ended with one.
	var pre, post []byte
	if at > 0 && decoded[at-1] != '\n' {
		pre = append(pre, nl...)
	}
	if part.MediaType == "text/plain" && strings.EqualFold(part.Params["format"], "flowed") && flowedEnd(decoded[:at]) {
		// RFC 3676 §4.2: a line ending in a space flows into the next
		// one; an empty line ends the paragraph.
		pre = append(pre, nl...)
	}
	if at < len(decoded) || len(decoded) == 0 || endsWithNewline(decoded) {
		post = append(post, nl...)
	}
	ins := slices.Concat(pre, []byte(foot), post)

	start, end := part.BodyStart, part.End
	var e edit
	switch {
	case identity:
		// Identity encoding: insert, every original byte stays.
		e = edit{start + at, start + at, ins}
	case cte == "quoted-printable" && at == len(decoded):
		e = edit{end, end, appendQP(raw, pre, ins[len(pre):])}
	case cte == "quoted-printable":
		next := splice(decoded, at, ins)
		e = edit{start, end, encodeQP(next, endsWithNewline(raw))}
	default: // base64
		next := splice(decoded, at, ins)
		e = edit{start, end, encodeBase64(next, endsWithNewline(raw))}
	}
	if part.HeaderUnended() {
		e.data = endHeader(body, part, e.data)
	}
	return e, nil
}

// endHeader returns the content data of a part that has a header but no
// empty line after it, hence no body, preceded by what ends the header, so
// that data is the part's body and not more header fields: a line break
// if the header's last line has none (its CRLF belonged to the boundary
// delimiter), then the empty line. The part's content is empty, so data is
// inserted at part.End. When the next delimiter follows at once (back to
// back boundaries share one CRLF), data ends with a CRLF of its own, so
// the delimiter still starts a line.
func endHeader(body []byte, part *mime.Part, data []byte) []byte {
	var out []byte
	if h := body[part.Start:part.End]; len(h) > 0 && !bytes.HasSuffix(h, []byte(crlf)) {
		out = append(out, crlf...)
	}
	out = append(out, crlf...)
	out = append(out, data...)
	if part.End < len(body) && !bytes.HasPrefix(body[part.End:], []byte(crlf)) && !bytes.HasSuffix(out, []byte(crlf)) {
		out = append(out, crlf...)
	}
	return out
}

func splice(b []byte, at int, ins []byte) []byte {
	out := make([]byte, 0, len(b)+len(ins))
	out = append(out, b[:at]...)
	out = append(out, ins...)
	return append(out, b[at:]...)
}

// lastIndexFold returns the index of the last ASCII case-insensitive match
// of the lower-case needle in b, or -1.
func lastIndexFold(b []byte, needle string) int {
	for i := len(b) - len(needle); i >= 0; i-- {
		if bytes.EqualFold(b[i:i+len(needle)], []byte(needle)) {
			return i
		}
	}
	return -1
}

// appendQP returns the bytes to add after the quoted-printable content raw
// so that it decodes to its old text, then pre (line breaks), then text. If
// raw's last line is still open (no final CRLF, or a final soft break "=",
// RFC 2045 §6.7 rule 5), it is closed first: by a hard break that stands
// for pre's first line break, or by a soft break when pre has none. The
// result ends with CRLF if raw did.
func appendQP(raw, pre, text []byte) []byte {
	endsCRLF := bytes.HasSuffix(raw, []byte(crlf))
	last := bytes.TrimSuffix(raw, []byte(crlf))
	if i := bytes.LastIndex(last, []byte(crlf)); i >= 0 {
		last = last[i+2:]
	}
	soft := bytes.HasSuffix(bytes.TrimRight(last, " \t"), []byte("="))
	var out []byte
	if len(raw) > 0 && (!endsCRLF || soft) {
		if len(pre) > 0 {
			if !endsCRLF {
				out = append(out, crlf...) // a hard break, or completes the soft one
			}
			if soft {
				out = append(out, crlf...) // an empty line: the hard break
			}
			pre = trimBreak(pre)
		} else if !endsCRLF {
			if soft {
				out = append(out, crlf...) // completes the soft break
			} else {
				out = append(out, "="+crlf...) // a soft break: no new line in the text
			}
		}
	}
	return append(out, encodeQP(slices.Concat(pre, text), endsCRLF)...)
}

// trimBreak removes one leading line break (CRLF or LF).
func trimBreak(b []byte) []byte {
	if bytes.HasPrefix(b, []byte(crlf)) {
		return b[2:]
	}
	return bytes.TrimPrefix(b, []byte("\n"))
}

// flowedEnd reports whether the last line of text is a flowed line (RFC
// 3676 §4.2: it ends in a space), other than the signature separator "-- ".
func flowedEnd(text []byte) bool {
	line := bytes.TrimSuffix(bytes.TrimSuffix(text, []byte("\n")), []byte("\r"))
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	return bytes.HasSuffix(line, []byte(" ")) && string(line) != "-- "
}

// encodeQP encodes text as quoted-printable (RFC 2045 §6.7): CRLF hard line
// breaks, lines of at most 76 characters, trailing whitespace encoded. The
// result ends with CRLF only if text does, or if final asks for it.
func encodeQP(text []byte, final bool) []byte {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write(text) // a bytes.Buffer does not fail
	w.Close()
	out := b.Bytes()
	if final && !bytes.HasSuffix(out, []byte(crlf)) {
		out = append(out, crlf...)
	}
	return out
}

// decodeBase64 decodes base64 content, ignoring line breaks and other
// whitespace, with or without padding.
func decodeBase64(raw []byte) ([]byte, error) {
	clean := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, raw)
	if d, err := base64.StdEncoding.DecodeString(string(clean)); err == nil {
		return d, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(string(clean), "="))
}

// encodeBase64 encodes b as base64 in lines of 76 characters separated by
// CRLF (RFC 2045 §6.8), with a final CRLF if final.
func encodeBase64(b []byte, final bool) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out []byte
	for len(enc) > b64Line {
		out = append(out, enc[:b64Line]...)
		out = append(out, crlf...)
		enc = enc[b64Line:]
	}
	out = append(out, enc...)
	if final {
		out = append(out, crlf...)
	}
	return out
}
