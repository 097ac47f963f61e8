package smtp

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestDotWriter(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{".foo\r\n..bar\r\n", "..foo\r\n...bar\r\n.\r\n"},
		{"a\r\n.", "a\r\n..\r\n.\r\n"},
		{"x.y\r\n", "x.y\r\n.\r\n"},
		// defence: bare LF and bare CR become CRLF, dots after them are stuffed
		{"a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r.\rb\r", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\r\r\n.\r\r\n", "a\r\n\r\n..\r\n\r\n.\r\n"},
		{"\n", "\r\n.\r\n"},
		{"\r", "\r\n.\r\n"},
	}
	for _, c := range cases {
		// whole, then byte by byte (every split point)
		var whole bytes.Buffer
		if _, err := writeDotStuffed(&whole, []byte(c.in)); err != nil {
			t.Fatal(err)
		}
		if whole.String() != c.want {
			t.Errorf("%q: got %q, want %q", c.in, whole.String(), c.want)
		}
		var split bytes.Buffer
		d := NewDotWriter(&split)
		for i := range len(c.in) {
			if _, err := d.Write([]byte{c.in[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if split.String() != c.want {
			t.Errorf("%q byte by byte: got %q, want %q", c.in, split.String(), c.want)
		}
		if d.Written() != int64(split.Len()) {
			t.Errorf("Written = %d, want %d", d.Written(), split.Len())
		}
	}
}

// checkDotOutput asserts what docs/TESTPLAN.md row 54 needs of the wire: only CRLF
// line endings and no line "." before the terminating one.
func checkDotOutput(t *testing.T, out []byte) {
	t.Helper()
	if !bytes.HasSuffix(out, eod) {
		t.Fatalf("no terminator: %q", out)
	}
	if len(out) > 3 && !bytes.HasSuffix(out, []byte("\r\n.\r\n")) {
		t.Fatalf("terminator not on its own line: %q", out)
	}
	lines := bytes.SplitAfter(out, []byte("\n"))
	for i, l := range lines {
		if len(l) == 0 {
			continue
		}
		if !bytes.HasSuffix(l, crlf) || bytes.IndexByte(l[:len(l)-2], '\r') >= 0 {
			t.Fatalf("line %d %q is not CRLF-terminated or holds a CR", i, l)
		}
		if string(l) == ".\r\n" && i != len(lines)-2 {
			t.Fatalf("line %d is a lone dot before the end: %q", i, out)
		}
	}
}

func TestDotWriterOutputShape(t *testing.T) {
	for _, in := range []string{"", ".", "\n.\n", "\r.\r", ".\r\n.\r\n", "a\r\n.\r\n\r\n.", strings.Repeat(".\r\n", 50)} {
		var b bytes.Buffer
		if _, err := writeDotStuffed(&b, []byte(in)); err != nil {
			t.Fatal(err)
		}
		checkDotOutput(t, b.Bytes())
	}
}

// normalize is what ReadData returns for input without NUL or bare CR: bare
// LF becomes CRLF and a last line without an ending gets one.
func normalize(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if s != "" && !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return []byte(s)
}

// FuzzDotWriter: the output has the right shape, and reading it back gives
// the normalised input: ReadData(DotWriter(b)) == normalize(b).
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.\r\nb", "\n.\n", "..\r\n", "x\ny"} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		var out bytes.Buffer
		d := NewDotWriter(&out)
		cut := 0
		if len(b) > 0 {
			cut = int(split) % (len(b) + 1)
		}
		d.Write(b[:cut])
		d.Write(b[cut:])
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		checkDotOutput(t, out.Bytes())
		if bytes.IndexByte(b, 0) >= 0 {
			return
		}
		for i, c := range b {
			if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
				return
			}
		}
		got, err := ReadData(bufio.NewReader(&out), DataOptions{BareLF: BareLFReject})
		if err != nil {
			t.Fatalf("read back: %v (wire %q)", err, out.String())
		}
		if want := normalize(b); !bytes.Equal(got, want) {
			t.Fatalf("roundtrip: got %q, want %q", got, want)
		}
	})
}

// writeDotStuffed writes msg to w dot-stuffed and terminated by "." CRLF,
// as a DotWriter does, and returns the number of bytes written.
func writeDotStuffed(w io.Writer, msg []byte) (int64, error) {
	d := NewDotWriter(w)
	if _, err := d.Write(msg); err != nil {
		return d.n, err
	}
	err := d.Close()
	return d.n, err
}
