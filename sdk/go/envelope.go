package sluice

import (
	"io"
	"strings"
)

// Rcpts returns the recipients accepted so far in this transaction (at rcpt
// the one being checked is Info(InfoRcpt), not in this list).
func Rcpts(h Host) []string {
	n := h.RcptCount()
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if r, ok := h.Rcpt(i); ok {
			out = append(out, r)
		}
	}
	return out
}

// Header returns the value of the first field named name (case-insensitive).
func Header(h Host, name string) (string, bool) {
	i, ok := h.FindHeader(name, 0)
	if !ok {
		return "", false
	}
	return h.HeaderValue(i)
}

// Body returns a reader over the message body that reads through the host in
// the caller's chunks: the body is never copied into the plugin as a whole.
// It is an io.Reader, io.ReaderAt and io.Seeker.
//
//	r := bufio.NewReaderSize(sluice.Body(h), 32<<10)
func Body(h Host) *io.SectionReader {
	return io.NewSectionReader(bodyAt{h}, 0, int64(h.BodySize()))
}

type bodyAt struct{ h Host }

func (b bodyAt) ReadAt(p []byte, off int64) (int, error) { return b.h.BodyReadAt(p, off) }

// LocalPart returns the local part of an address: what comes before the last
// '@' (all of it when there is none), as written: local parts may be
// case-sensitive (RFC 5321 §2.4). Rust's sluice::local_part does the same.
//
//	sluice.LocalPart("Bob@example.org")        // "Bob"
//	sluice.LocalPart(`"a@b"@example.org`)      // `"a@b"`
func LocalPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// Domain returns the domain of an address (after the last '@'), lower-cased
// without a trailing dot; "" when there is none.
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}
