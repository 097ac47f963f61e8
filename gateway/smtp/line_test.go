package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	const next = "NOOP\r\n"
	cases := []struct {
		name string
		in   string
		max  int
		want string
		err  error
		rest string // what must be left; defaults to next
	}{
		{"ok", "EHLO x\r\n", 512, "EHLO x", nil, ""},
		{"empty", "\r\n", 512, "", nil, ""},
		{"exactly max", "EHLO x\r\n", 8, "EHLO x", nil, ""},
		{"too long", "EHLO xy\r\n", 8, "", ErrLineTooLong, ""},
		{"too long across pieces", strings.Repeat("a", 100) + "\r\n", 50, "", ErrLineTooLong, ""},
		{"too long unterminated", strings.Repeat("a", MaxDiscard+200), 50, "", ErrLineTooLong, "tail"},
		{"bare LF end (A7)", "EHLO x\n", 512, "", ErrBareLF, ""},
		{"bare CR end", "EHLO x\rMAIL FROM:<a@b>\r\n", 512, "", ErrBareCR, ""},
		{"bare CR and LF", "EHLO x\r\r\n", 512, "", ErrBareCR, ""},
		{"bare CR before bare LF", "A\rB\n", 512, "", ErrBareCR, ""},
		{"NUL", "HELO a\x00b\r\n", 512, "", ErrNUL, ""},
		{"long ok", strings.Repeat("b", 3000) + "\r\n", 4096, strings.Repeat("b", 3000), nil, ""},
		{"no limit", strings.Repeat("b", 3000) + "\r\n", 0, strings.Repeat("b", 3000), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(c.in+next), 16)
			got, err := ReadLine(br, c.max)
			if err != c.err {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if string(got) != c.want {
				t.Fatalf("line = %q, want %q", got, c.want)
			}
			rest, _ := io.ReadAll(br)
			if c.rest == "" && string(rest) != next {
				t.Fatalf("rest = %q, want %q", rest, next)
			}
			if c.rest == "tail" && len(rest) >= len(c.in) {
				t.Fatalf("nothing discarded")
			}
		})
	}
}

func TestReadLineEOF(t *testing.T) {
	br := bufio.NewReader(strings.NewReader(""))
	if _, err := ReadLine(br, 512); err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
	br = bufio.NewReader(strings.NewReader("QUI"))
	if _, err := ReadLine(br, 512); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want ErrUnexpectedEOF", err)
	}
}

// FuzzLineReader: a returned line never holds CR, LF or NUL, is within the
// limit, and is exactly what preceded the CRLF.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{"EHLO x\r\n", "EHLO x\n", "a\rb\r\n", "\x00\r\n", strings.Repeat("z", 40) + "\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		pos := 0
		for {
			line, err := ReadLine(br, 32)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrLineTooLong) && !errors.Is(err, ErrBareLF) && !errors.Is(err, ErrBareCR) && !errors.Is(err, ErrNUL) {
					t.Fatalf("unexpected error %v", err)
				}
				// the line was consumed up to an LF: resync on it
				i := bytes.IndexByte(in[pos:], '\n')
				if i < 0 {
					t.Fatalf("error %v without an LF", err)
				}
				if !errors.Is(err, ErrLineTooLong) {
					pos += i + 1
				} else {
					return // discarding is bounded; stop following
				}
				continue
			}
			if len(line)+2 > 32 || bytes.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("bad line %q", line)
			}
			want := in[pos : pos+len(line)+2]
			if !bytes.Equal(want, append(append([]byte{}, line...), '\r', '\n')) {
				t.Fatalf("line %q does not match input %q", line, want)
			}
			pos += len(line) + 2
		}
	})
}
