package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/smtp"
)

func parseReply(s string) (*smtp.Reply, error) {
	return readReply(bufio.NewReaderSize(strings.NewReader(s), 16))
}

func TestReadReply(t *testing.T) {
	cases := []struct {
		in   string
		want *smtp.Reply
	}{
		{"250 OK\r\n", &smtp.Reply{Code: 250, Lines: []string{"OK"}}},
		{"250\r\n", &smtp.Reply{Code: 250, Lines: []string{""}}},
		{"250 2.1.0 Sender ok\r\n", &smtp.Reply{Code: 250, Enhanced: "2.1.0", Lines: []string{"Sender ok"}}},
		{"250 2.0.0\r\n", &smtp.Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{""}}},
		{"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n",
			&smtp.Reply{Code: 550, Enhanced: "5.7.1", Lines: []string{"first", "second", "third"}}},
		// Continuation lines without the code repeated keep their text.
		{"550-5.7.1 first\r\n550 more\r\n", &smtp.Reply{Code: 550, Enhanced: "5.7.1", Lines: []string{"first", "more"}}},
		// An enhanced code of the wrong class is text, not a code.
		{"450 5.7.1 wrong class\r\n", &smtp.Reply{Code: 450, Lines: []string{"5.7.1 wrong class"}}},
		{"250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 100\r\n",
			&smtp.Reply{Code: 250, Lines: []string{"mx.test Hello", "PIPELINING", "SIZE 100"}}},
		// A bare LF ending is tolerated.
		{"250 ok\n", &smtp.Reply{Code: 250, Lines: []string{"ok"}}},
		// Text is returned raw; sanitizing is the caller's job.
		{"550 bad\x01\xff\r\n", &smtp.Reply{Code: 550, Lines: []string{"bad\x01\xff"}}},
	}
	for _, c := range cases {
		got, err := parseReply(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestReadReplyErrors(t *testing.T) {
	cases := map[string]struct {
		in   string
		want error
	}{
		"garbage":         {"hello there\r\n", errReplySyntax},
		"short":           {"25\r\n", errReplySyntax},
		"code 199":        {"199 x\r\n", errReplySyntax},
		"code 260":        {"260 x\r\n", errReplySyntax},
		"code 600":        {"600 x\r\n", errReplySyntax},
		"bad separator":   {"250_x\r\n", errReplySyntax},
		"code changes":    {"250-a\r\n251 b\r\n", errReplySyntax},
		"eof mid reply":   {"250-a\r\n", io.ErrUnexpectedEOF},
		"eof no newline":  {"250 a", io.ErrUnexpectedEOF},
		"empty":           {"", io.ErrUnexpectedEOF},
		"line too long":   {"250 " + strings.Repeat("x", maxReplyLine) + "\r\n", errReplyLineTooLong},
		"no newline ever": {"250 " + strings.Repeat("x", 10*maxReplyLine), errReplyLineTooLong},
		"too many lines":  {strings.Repeat("250-x\r\n", maxReplyLines) + "250 x\r\n", errReplyTooManyLine},
		"endless":         {strings.Repeat("250-x\r\n", 10*maxReplyLines), errReplyTooManyLine},
	}
	for name, c := range cases {
		_, err := parseReply(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
	// The longest lines and the most lines allowed still pass.
	if _, err := parseReply("250 " + strings.Repeat("x", maxReplyLine-4) + "\r\n"); err != nil {
		t.Errorf("line of maximum length: %v", err)
	}
	if r, err := parseReply(strings.Repeat("250-x\r\n", maxReplyLines-1) + "250 x\r\n"); err != nil || len(r.Lines) != maxReplyLines {
		t.Errorf("reply of maximum lines: %v", err)
	}
}

func TestReadReplyStopsAtReply(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("250 a\r\n354 b\r\n"))
	r1, err1 := readReply(br)
	r2, err2 := readReply(br)
	if err1 != nil || err2 != nil || r1.Code != 250 || r2.Code != 354 {
		t.Fatalf("got %v %v, %v %v", r1, err1, r2, err2)
	}
}

func stuff(t testing.TB, in []byte, chunk int) []byte {
	var out bytes.Buffer
	d := newDotWriter(&out)
	for len(in) > 0 {
		n := min(chunk, len(in))
		if w, err := d.Write(in[:n]); err != nil || w != n {
			t.Fatalf("Write: %d, %v", w, err)
		}
		if _, err := d.Write(nil); err != nil { // an empty Write changes nothing
			t.Fatal(err)
		}
		in = in[n:]
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestDotWriter(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{"a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"..x\r\n.y\r\nz.\r\n", "...x\r\n..y\r\nz.\r\n.\r\n"},
		{"\r\n\r\n", "\r\n\r\n.\r\n"},
		// Stray CR and LF become CRLF, so a smuggled end of data cannot
		// survive (TESTPLAN rows 1-3).
		{"a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r\r\n.\r\n", "a\r\n\r\n..\r\n.\r\n"},
		{"a\n\r\n", "a\r\n\r\n.\r\n"},
		{"a\r", "a\r\n.\r\n"},
		{"\n", "\r\n.\r\n"},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 2, 3, 1 << 20} {
			if got := stuff(t, []byte(c.in), chunk); string(got) != c.want {
				t.Errorf("%q in chunks of %d: got %q, want %q", c.in, chunk, got, c.want)
			}
		}
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		w.n = 0
		return 0, errors.New("disk on fire")
	}
	w.n -= len(p)
	return len(p), nil
}

// A CR at the end of one Write and its LF at the start of the next are one
// line end, even with an empty Write between them.
func TestDotWriterSplitCRLF(t *testing.T) {
	var out bytes.Buffer
	d := newDotWriter(&out)
	for _, p := range []string{"a\r", "", "\n.b\r", "\n"} {
		d.Write([]byte(p))
	}
	d.Close()
	if got, want := out.String(), "a\r\n..b\r\n.\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDotWriterError(t *testing.T) {
	d := newDotWriter(&failWriter{n: 3})
	if _, err := d.Write([]byte("abc\r\n.def\r\n")); err == nil {
		t.Fatal("Write succeeded on a failing writer")
	}
	if _, err := d.Write([]byte("x")); err == nil {
		t.Fatal("Write succeeded after an error")
	}
	if err := d.Close(); err == nil {
		t.Fatal("Close succeeded after an error")
	}
}

// countingWriter counts Write calls.
type countingWriter struct {
	bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

// Clean input goes out in runs, not byte by byte (SPEC §6).
func TestDotWriterBulk(t *testing.T) {
	msg := bytes.Repeat([]byte(strings.Repeat("x", 76)+"\r\n"), 1000)
	var w countingWriter
	d := newDotWriter(&w)
	d.Write(msg)
	d.Close()
	if w.calls > 3 {
		t.Errorf("%d writes for a clean %d-byte message", w.calls, len(msg))
	}
}

// normalize is the reference for what the dot writer must carry: every CR,
// LF or CRLF is a line end, and the last line is completed.
func normalize(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\r':
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, in[i])
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// unstuff undoes the dot-stuffing of a body (terminator removed).
func unstuff(body []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(body, []byte("\r\n")) {
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return out
}

func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.\r\nb", "\n.\n", "\r.\r", "\r\n.\r", "..\r\n", "a\r", "\r\r\n.\r\r\n", "x\r\n\x00.\r\n"} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		out := stuff(t, in, int(chunk)+1)
		body, ok := bytes.CutSuffix(out, []byte(".\r\n"))
		if !ok {
			t.Fatalf("no terminator: %q", out)
		}
		if len(body) > 0 && !bytes.HasSuffix(body, []byte("\r\n")) {
			t.Fatalf("terminator not on its own line: %q", out)
		}
		if bytes.Contains(append([]byte("\r\n"), body...), []byte("\r\n.\r\n")) {
			t.Fatalf("end of data before the terminator: %q", out)
		}
		for i, c := range out {
			if c == '\r' && (i+1 == len(out) || out[i+1] != '\n') || c == '\n' && (i == 0 || out[i-1] != '\r') {
				t.Fatalf("stray CR or LF at %d: %q", i, out)
			}
		}
		want := normalize(in)
		if got := unstuff(body); !bytes.Equal(got, want) {
			t.Fatalf("unstuffed %q, want %q", got, want)
		}
		if bytes.Equal(want, in) && !bytes.Equal(unstuff(body), in) {
			t.Fatalf("clean input %q not given back", in)
		}
	})
}

func FuzzReplyReader(f *testing.F) {
	for _, s := range []string{"250 OK\r\n", "250-a\r\n250 b\r\n", "550 5.7.1 no\r\n", "250\r\n", "421-4.3.2 x\r\n421 4.3.2\r\n", "250 ok\n", "2", "250-"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countReader{r: bytes.NewReader(in)}
		r, err := readReply(bufio.NewReaderSize(cr, 16))
		if cr.n > (maxReplyLines+1)*(maxReplyLine+2)+16 {
			t.Fatalf("read %d bytes", cr.n)
		}
		if err != nil {
			if r != nil {
				t.Fatal("reply and error")
			}
			return
		}
		if r.Code < 200 || r.Code > 559 || len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
			t.Fatalf("bad reply %#v", r)
		}
		if r.Enhanced != "" && !smtp.ValidEnhanced(r.Enhanced, r.Code) {
			t.Fatalf("bad enhanced code %q", r.Enhanced)
		}
		for _, l := range r.Lines {
			if len(l) > maxReplyLine || strings.ContainsRune(l, '\n') {
				t.Fatalf("bad line %q", l)
			}
		}
		// Formatting and reading again gives the same reply, unless the
		// repeated enhanced code pushed a line over the limit.
		again, err := parseReply(r.Format())
		if errors.Is(err, errReplyLineTooLong) {
			return
		}
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %#v: %#v, %v", r, again, err)
		}
	})
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// benchMessage is a message of about size bytes with 76-byte lines, some
// starting with a dot.
func benchMessage(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		if i%20 == 0 {
			b.WriteString(".")
		}
		fmt.Fprintf(&b, "%075d\r\n", i)
	}
	return b.Bytes()
}

func BenchmarkDotStuff(b *testing.B) {
	for _, size := range []int{10 << 10, 100 << 10} {
		msg := benchMessage(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			bw := bufio.NewWriterSize(io.Discard, 32<<10)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				d := newDotWriter(bw)
				d.Write(msg)
				d.Close()
				bw.Flush()
			}
		})
	}
}
