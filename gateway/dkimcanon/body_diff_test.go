package dkimcanon

import (
	"bytes"
	"context"
	"math/rand"
	"strings"
	"testing"
)

// refCanonBody is RFC 6376 §3.4.3 and §3.4.4 read literally, line by line,
// for the differential tests of Body: split at CRLF (a bare CR or LF
// is an ordinary byte, a last line without CRLF is a line), relax each
// line, drop the empty lines at the end, end each line with CRLF; simple
// turns an empty result into one CRLF.
func refCanonBody(c Canon, body []byte) []byte {
	lines := strings.Split(string(body), "\r\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // body ends with CRLF, or is empty
	}
	if c == Relaxed {
		for i, l := range lines {
			var sb strings.Builder
			wsp := false
			for j := 0; j < len(l); j++ {
				if l[j] == ' ' || l[j] == '\t' {
					wsp = true
					continue
				}
				if wsp {
					sb.WriteByte(' ')
					wsp = false
				}
				sb.WriteByte(l[j])
			}
			lines[i] = sb.String() // a run at the end was never written
		}
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []byte
	for _, l := range lines {
		out = append(out, l...)
		out = append(out, "\r\n"...)
	}
	if c == Simple && len(out) == 0 {
		out = []byte("\r\n")
	}
	return out
}

func checkCanonBody(t *testing.T, body []byte) {
	t.Helper()
	for _, c := range []Canon{Relaxed, Simple} {
		var got bytes.Buffer
		if err := Body(context.Background(), &got, c, body); err != nil {
			t.Fatal(err)
		}
		if want := refCanonBody(c, body); !bytes.Equal(got.Bytes(), want) {
			show := func(b []byte) string {
				if len(b) > 200 {
					return strings.ReplaceAll(string(b[:100]), "\r\n", "⏎") + "…" + string(b[len(b)-100:])
				}
				return string(b)
			}
			t.Fatalf("%v body %q (%d bytes):\n got %q\nwant %q", c, show(body), len(body), show(got.Bytes()), show(want))
		}
	}
}

// TestBodyDifferential: Body equals the literal reference on
// random bodies made of the bytes that matter (SP, HTAB, CR, LF, CRLF,
// letters), short and long, and on the shapes at the edges: bare CR and
// LF, WSP at line ends and at the very end, blank lines at the end, no
// final CRLF, and lines longer than a hash chunk.
func TestBodyDifferential(t *testing.T) {
	for _, s := range []string{
		"", "\r\n", "\r", "\n", " ", "\t", "a", "a ", " a", "a\r", "a \r", "a \r\r\n", "a\t\r\n",
		" \r\n", "  \r\n", "\r\n \r\n\t\r\n", "a\r\n\r\n", "a\r\n \r\n", "a\r\n \t", "a  b", "a \tb",
		"a\r\n\n", "\n\r\n", "a \n b", " \r \n ", "a\r\n\r\n\r", "a  ", "a\t", "\t\ta\t\t",
	} {
		checkCanonBody(t, []byte(s))
	}
	r := rand.New(rand.NewSource(11))
	pieces := []string{" ", "\t", "\r", "\n", "\r\n", "\r\n", "a", "bc", "  ", " \r\n",
		"abcdefghijklmnopq", "xxxxxxxxx\txxxxxxxxxxx", "ABCDEFGHIJ\r\n"} // runs of 8+ bytes without a space
	for i := 0; i < 20000; i++ {
		var b []byte
		for n := r.Intn(40); n > 0; n-- {
			b = append(b, pieces[r.Intn(len(pieces))]...)
		}
		checkCanonBody(t, b)
	}
	// Long lines and long runs, across hash chunks.
	long := func(n int, s string) string { return strings.Repeat(s, n/len(s)) }
	for _, s := range []string{
		long(3*Chunk, "x"),
		long(3*Chunk, " ") + "x\r\n",
		"x" + long(3*Chunk, " \t") + "\r\n\r\n",
		long(Chunk+7, "ab  cd\t") + " ",
		long(2*Chunk, "word ") + "\r\n" + long(Chunk, " ") + "\r\n",
		long(Chunk, "a\r\n") + long(Chunk, "\r\n"),
		long(Chunk, "a \r\n"),
	} {
		checkCanonBody(t, []byte(s))
	}
}

// FuzzBody: Body equals the literal reference on any input.
func FuzzBody(f *testing.F) {
	for _, s := range []string{"", " C \r\nD \t E\r\n\r\n\r\n", "a \r", "a\r\n \t", "\t\r\n  x  \r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkCanonBody(t, b) })
}
