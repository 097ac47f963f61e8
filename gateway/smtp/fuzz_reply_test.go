package smtp

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// cycleReader repeats b forever: a downstream server that never stops
// talking.
type cycleReader struct {
	b   []byte
	pos int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.b[c.pos:])
		n += k
		c.pos = (c.pos + k) % len(c.b)
	}
	return n, nil
}

// maxReplyRead bounds what ReadReply may consume: MaxReplyLines full lines,
// then one over-long line discarded up to MaxDiscard, plus one bufio buffer
// read ahead.
const maxReplyRead = MaxReplyLines*(MaxReplyLineLength+2) + MaxReplyLineLength + MaxDiscard + 2*4096

// checkReply asserts what every reply ReadReply returns satisfies.
func checkReply(t *testing.T, r *Reply) {
	t.Helper()
	if r.Code < 200 || r.Code > 559 || r.Code/10%10 > 5 {
		t.Fatalf("code %d outside 2xx-5xx with a second digit 0-5", r.Code)
	}
	if len(r.Lines) == 0 || len(r.Lines) > MaxReplyLines {
		t.Fatalf("%d lines", len(r.Lines))
	}
	for _, l := range r.Lines {
		if strings.ContainsAny(l, "\r\n\x00") {
			t.Fatalf("line %q holds CR, LF or NUL", l)
		}
		if len(l)+6 > MaxReplyLineLength {
			t.Fatalf("line of %d bytes over the limit", len(l))
		}
	}
	if r.Enhanced != "" && !ValidEnhanced(r.Enhanced, r.Code) {
		t.Fatalf("enhanced code %q inconsistent with %d", r.Enhanced, r.Code)
	}
}

// FuzzReadReply covers docs/TESTPLAN.md row 39 from the client side: whatever a
// downstream server sends, ReadReply returns a well-formed reply or an
// error, after a bounded read, even from a server that never stops; and a
// reply it returned survives Format and ReadReply unchanged.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 2.1.0 Ok\r\n",
		"220 mx.example ESMTP\r\n",
		"250\r\n",
		"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n",
		"550-5.7.1 no\r\n550 5.7.1 really\r\n",
		"550-5.7.1 a\r\n550 5.2.2 b\r\n",
		"450 5.7.1 class mismatch\r\n",
		"250 2.0.0\r\n",
		"250 2.0.0 2.0.0 twice\r\n",
		"250-a\r\n251 b\r\n",
		"250 a\n",
		"250 a\rb\r\n",
		"250 \x00\r\n",
		"250-",
		"25",
		"699 x\r\n",
		"250-" + strings.Repeat("x", 64) + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// A finite stream.
		cr := &countingReader{r: strings.NewReader(string(in))}
		r, err := ReadReply(bufio.NewReader(cr))
		if cr.n > maxReplyRead {
			t.Fatalf("read %d bytes, bound %d", cr.n, maxReplyRead)
		}
		if err == nil {
			checkReply(t, r)
			again, err := ReadReply(bufio.NewReader(strings.NewReader(r.Format())))
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("round trip of %#v: %#v, %v", r, again, err)
			}
		} else if !errors.Is(err, ErrBadReply) && err != io.EOF && err != io.ErrUnexpectedEOF {
			t.Fatalf("error %v is neither ErrBadReply nor the end of the stream", err)
		}

		// An endless stream repeating the input: still one bounded read.
		if len(in) == 0 {
			return
		}
		cr = &countingReader{r: &cycleReader{b: in}}
		r, err = ReadReply(bufio.NewReader(cr))
		if cr.n > maxReplyRead {
			t.Fatalf("endless stream: read %d bytes, bound %d", cr.n, maxReplyRead)
		}
		if err == nil {
			checkReply(t, r)
		} else if !errors.Is(err, ErrBadReply) {
			t.Fatalf("endless stream: error %v does not wrap ErrBadReply", err)
		}
	})
}

// FuzzReplyFormat: a valid reply built from any code, enhanced code and
// text survives Format and ReadReply unchanged. The text is split into
// lines at '|'.
func FuzzReplyFormat(f *testing.F) {
	f.Add(250, "2.1.0", "Ok")
	f.Add(550, "5.7.1", "one|two|")
	f.Add(451, "", "4.3.0 looks enhanced")
	f.Add(220, "", "mx.example ESMTP| more")
	f.Add(421, "4.4.2", " leading space|")
	f.Fuzz(func(t *testing.T, code int, enhanced, text string) {
		r := &Reply{Code: code, Enhanced: enhanced, Lines: strings.Split(text, "|")}
		if code < 200 || code > 559 || code/10%10 > 5 || len(r.Lines) > MaxReplyLines ||
			enhanced != "" && !ValidEnhanced(enhanced, code) {
			return
		}
		for _, l := range r.Lines {
			if strings.ContainsAny(l, "\r\n\x00") || len(l)+len(enhanced)+7 > MaxReplyLineLength {
				return
			}
		}
		if enhanced == "" {
			// Documented ambiguity: a first line that starts with a valid
			// enhanced code is read as one.
			if _, _, ok := cutEnhanced(r.Lines[0], code); ok {
				return
			}
		}
		got, err := ReadReply(bufio.NewReader(strings.NewReader(r.Format())))
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip of %#v: %#v, %v", r, got, err)
		}
	})
}
