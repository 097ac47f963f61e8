package msgauth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// sigPrefixLen is how much of b= a DKIMResult reports (RFC 6008 §4: at
// least 8 characters; 12 tells signatures apart in practice).
const sigPrefixLen = 12

// checkDKIM verifies the first max DKIM-Signature fields of the rendered
// message raw (RFC 6376 §6.1), in header order. Without a signature the
// result is one "none" entry.
//
// Hashing a large body stops once ctx has ended: the signatures are then
// temperror.
func checkDKIM(ctx context.Context, raw []byte, max int, lookupTXT func(string) ([]string, error)) []DKIMResult {
	sigs := signatureFields(raw, max)
	if len(sigs) == 0 {
		return []DKIMResult{{Result: "none"}}
	}
	verifs, err := dkim.VerifyWithOptions(&ctxReader{ctx: ctx, r: bytes.NewReader(raw)}, &dkim.VerifyOptions{
		LookupTXT:        lookupTXT,
		MaxVerifications: max,
	})
	out := make([]DKIMResult, len(sigs))
	for i, s := range sigs {
		out[i] = describe(s)
	}
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// Not a verdict on a signature: the header could not be read (it
		// has no end), or reading the body failed.
		result, why := "temperror", "verification failed internally"
		switch {
		case ctx.Err() != nil:
			result, why = "temperror", "verification stopped at the deadline"
		case verifs == nil:
			result, why = "permerror", "message header could not be read"
		}
		for i := range out {
			out[i].Result, out[i].Reason = result, why
		}
		return out
	}
	// signatureFields reads the header as the library does, so the two
	// lists match; should they not, the library's count wins.
	if len(verifs) < len(out) {
		out = out[:len(verifs)]
	}
	for i := range out {
		v := verifs[i]
		switch {
		case v.Err == nil:
			out[i].Result = "pass"
		case dkim.IsTempFail(v.Err):
			out[i].Result = "temperror"
		case dkim.IsPermFail(v.Err):
			out[i].Result = "permerror"
		case sigs[i].hasLength:
			// The library refuses l= (a signature covering part of the
			// body) before checking the hashes: a local policy, RFC 8601
			// §2.7.1 "policy", RFC 6376 §8.2.
			out[i].Result = "policy"
		default:
			out[i].Result = "fail"
		}
		if v.Err != nil {
			out[i].Reason = reason(v.Err.Error())
		}
	}
	return out
}

// sigTags are the tags of one DKIM-Signature that a DKIMResult reports.
type sigTags struct {
	d, s, i, a, b string
	hasLength     bool // l= is present
}

// describe fills the identifying fields of a result from the tags.
func describe(t sigTags) DKIMResult {
	r := DKIMResult{Domain: t.d, Selector: t.s, Identifier: t.i, Algorithm: t.a, Signature: t.b}
	if len(r.Signature) > sigPrefixLen {
		r.Signature = r.Signature[:sigPrefixLen]
	}
	return r
}

// signatureFields returns the tags of the first max DKIM-Signature fields
// of the header of raw. It splits the header as go-msgauth does (lines end
// at LF, a CR before it dropped; a line starting with SP or HTAB continues
// the previous field; the header ends at the first empty line), so that its
// list lines up with the library's verifications.
func signatureFields(raw []byte, max int) []sigTags {
	var sigs []sigTags
	start := -1 // start of the field being read
	end := 0
	flush := func() {
		if start >= 0 && len(sigs) < max {
			if v, ok := signatureValue(raw[start:end]); ok {
				sigs = append(sigs, parseSigTags(v))
			}
		}
	}
	pos := 0
	for pos < len(raw) {
		next := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(raw[pos:next], []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			break
		}
		if start >= 0 && (line[0] == ' ' || line[0] == '\t') {
			end = next
		} else {
			flush()
			start, end = pos, next
		}
		pos = next
	}
	flush()
	return sigs
}

// signatureValue returns the value of field if it is a DKIM-Signature.
func signatureValue(field []byte) ([]byte, bool) {
	name, value, ok := bytes.Cut(field, []byte(":"))
	if !ok || !strings.EqualFold(string(bytes.TrimSpace(name)), "DKIM-Signature") {
		return nil, false
	}
	return value, true
}

// parseSigTags reads a tag-list (RFC 6376 §3.2) leniently: whitespace,
// including folding, is removed from values; the first of duplicate tags
// counts; malformed parts are skipped (the library judges validity).
func parseSigTags(v []byte) sigTags {
	var t sigTags
	seen := 0
	for len(v) > 0 {
		var part []byte
		part, v, _ = bytes.Cut(v, []byte(";"))
		name, value, ok := bytes.Cut(part, []byte("="))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if len(name) != 1 {
			continue
		}
		var dst *string
		bit := 0
		switch name[0] {
		case 'd':
			dst, bit = &t.d, 1
		case 's':
			dst, bit = &t.s, 2
		case 'i':
			dst, bit = &t.i, 4
		case 'a':
			dst, bit = &t.a, 8
		case 'b':
			dst, bit = &t.b, 16
		case 'l':
			t.hasLength = true
			continue
		default:
			continue
		}
		if seen&bit != 0 {
			continue
		}
		seen |= bit
		*dst = stripFWS(value)
	}
	return t
}

// stripFWS removes whitespace (SP, HTAB, CR, LF) from a tag value.
func stripFWS(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// ctxReader reads from r until ctx ends, then fails with ctx's error, so
// verifying a large body cannot outlive the caller's deadline.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
