package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// readData runs ReadData over in with a small reader buffer (16 bytes, the
// minimum) so that long lines are split into pieces, and again with a large
// buffer; both must agree. It returns the message, the error and what is left
// in the stream after ReadData returned.
func readData(t *testing.T, in string, opt DataOptions) ([]byte, error, string) {
	t.Helper()
	var outs [2][]byte
	var errs [2]error
	var rests [2]string
	for i, size := range []int{16, 4096} {
		br := bufio.NewReaderSize(strings.NewReader(in), size)
		outs[i], errs[i] = ReadData(br, opt)
		rest, _ := io.ReadAll(br)
		rests[i] = string(rest)
	}
	if !bytes.Equal(outs[0], outs[1]) || errs[0] != errs[1] || rests[0] != rests[1] {
		t.Fatalf("buffer sizes disagree on %q: %q/%v/%q vs %q/%v/%q", in,
			outs[0], errs[0], rests[0], outs[1], errs[1], rests[1])
	}
	return outs[1], errs[1], rests[1]
}

// TestReadDataFraming covers docs/TESTPLAN.md rows A1–A5, A8 and A9: only CRLF.CRLF
// ends the data, and what follows the real end stays in the stream.
func TestReadDataFraming(t *testing.T) {
	const tail = "MAIL FROM:<evil@x>\r\n"
	cases := []struct {
		name   string
		in     string
		bareLF BareLF
		want   string
		err    error
	}{
		{"plain", "a\r\nb\r\n.\r\n", BareLFNormalize, "a\r\nb\r\n", nil},
		{"empty message", ".\r\n", BareLFNormalize, "", nil},
		{"empty line", "\r\n.\r\n", BareLFNormalize, "\r\n", nil},
		// A8: "..foo" is ".foo" after unstuffing; a lone ".." is ".".
		{"A8 unstuff", "..foo\r\n..\r\n.x\r\n.\r\n", BareLFNormalize, ".foo\r\n.\r\nx\r\n", nil},
		// A1: "\n.\n" is no end; normalised to CRLF, the "." is a body line.
		{"A1 normalize", "a\n.\nb\r\n.\r\n", BareLFNormalize, "a\r\n.\r\nb\r\n", nil},
		{"A1 reject", "a\n.\nb\r\n.\r\n", BareLFReject, "", ErrBareLF},
		// A2: "\n.\r\n" and "\r\n.\n".
		{"A2 lf-dot-crlf normalize", "a\n.\r\nb\r\n.\r\n", BareLFNormalize, "a\r\n.\r\nb\r\n", nil},
		{"A2 lf-dot-crlf reject", "a\n.\r\nb\r\n.\r\n", BareLFReject, "", ErrBareLF},
		{"A2 crlf-dot-lf normalize", "a\r\n.\nb\r\n.\r\n", BareLFNormalize, "a\r\n.\r\nb\r\n", nil},
		{"A2 crlf-dot-lf reject", "a\r\n.\nb\r\n.\r\n", BareLFReject, "", ErrBareLF},
		// A9: "<CRLF>.<LF>" is a bare LF, the dot is not lost.
		{"A9", "x\r\n.\n.\r\n.\r\n", BareLFNormalize, "x\r\n.\r\n.\r\n", nil},
		// A3: bare CR is always an error and never an end.
		{"A3 cr-dot-cr", "a\r.\rb\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		{"A3 cr-dot-lf", "a\r.\nb\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		{"A3 crlf-dot-cr", "a\r\n.\rb\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		{"A3 crlf-dot-cr reject", "a\r\n.\rb\r\n.\r\n", BareLFReject, "", ErrBareCR},
		// A4: NUL before the dot.
		{"A4 nul", "a\r\n\x00.\r\nb\r\n.\r\n", BareLFNormalize, "", ErrNUL},
		// A5: no collapsing of CRs.
		{"A5", "a\r\r\n.\r\r\nb\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		// A framing error wins over an earlier NUL.
		{"nul then cr", "\x00\r\na\rb\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		// Lone CR or LF lines.
		{"lone lf", "\n.\r\n.\r\n", BareLFNormalize, "\r\n.\r\n", nil},
		{"lone cr", "\r.\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		// A long line split across reader pieces, starting with a dot.
		{"long stuffed", ".." + strings.Repeat("y", 100) + "\r\n.\r\n", BareLFNormalize, "." + strings.Repeat("y", 100) + "\r\n", nil},
		{"long with bare cr", strings.Repeat("y", 15) + "\r" + strings.Repeat("z", 40) + "\r\n.\r\n", BareLFNormalize, "", ErrBareCR},
		{"long with crlf at piece edge", strings.Repeat("y", 15) + "\r\n.\r\n", BareLFNormalize, strings.Repeat("y", 15) + "\r\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err, rest := readData(t, c.in+tail, DataOptions{BareLF: c.bareLF})
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if string(got) != c.want {
				t.Errorf("message = %q, want %q", got, c.want)
			}
			if rest != tail {
				t.Errorf("stream after data = %q, want %q (end of data found at the wrong place)", rest, tail)
			}
		})
	}
}

// TestReadDataSmuggling is docs/TESTPLAN.md row A6: a full fake transaction behind a
// fake end of data stays inside the one message.
func TestReadDataSmuggling(t *testing.T) {
	for _, fake := range []string{"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\n", "\r\n.\r", "\r\r\n.\r\r\n", "\r\n\x00.\r\n"} {
		in := "Subject: hi\r\n\r\nbody" + fake + "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nevil\r\n.\r\nQUIT\r\n"
		for _, mode := range []BareLF{BareLFNormalize, BareLFReject} {
			got, err, rest := readData(t, in, DataOptions{BareLF: mode})
			if rest != "QUIT\r\n" {
				t.Errorf("%q %v: rest = %q", fake, mode, rest)
			}
			if err == nil && !bytes.Contains(got, []byte("MAIL FROM:<a@b>\r\n")) {
				t.Errorf("%q %v: smuggled commands missing from the one message: %q", fake, mode, got)
			}
			if err == nil && bytes.ContainsAny(got, "\x00") {
				t.Errorf("%q: NUL stored", fake)
			}
			if err == nil && bytes.Contains(got, []byte("\r\r")) {
				t.Errorf("%q: stray CR stored: %q", fake, got)
			}
		}
	}
}

func TestReadDataTooBig(t *testing.T) {
	body := strings.Repeat("0123456789\r\n", 10) // 120 bytes
	in := body + ".\r\nNEXT\r\n"
	got, err, rest := readData(t, in, DataOptions{MaxSize: 120})
	if err != nil || string(got) != body {
		t.Fatalf("exactly at the limit: %v %q", err, got)
	}
	got, err, rest = readData(t, in, DataOptions{MaxSize: 119})
	if !errors.Is(err, ErrTooBig) || got != nil {
		t.Fatalf("over the limit: %v %q", err, got)
	}
	if rest != "NEXT\r\n" {
		t.Fatalf("too big data not consumed to its end: rest %q", rest)
	}
	// A framing error later in an oversized message still wins.
	_, err, _ = readData(t, body+"x\ry\r\n.\r\n", DataOptions{MaxSize: 10})
	if !errors.Is(err, ErrBareCR) {
		t.Fatalf("err = %v, want ErrBareCR", err)
	}
}

func TestReadDataOverrunAndEOF(t *testing.T) {
	in := strings.Repeat("x\r\n", 100) + ".\r\n"
	if _, err, _ := readData(t, in, DataOptions{MaxSize: 10, MaxConsume: 100}); !errors.Is(err, ErrDataOverrun) {
		t.Fatalf("err = %v, want ErrDataOverrun", err)
	}
	if _, err, _ := readData(t, in, DataOptions{MaxConsume: 400}); err != nil {
		t.Fatalf("within MaxConsume: %v", err)
	}
	if _, err, _ := readData(t, "abc\r\n.\n", DataOptions{}); err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

// FuzzDataReader: ReadData never panics, never stores a bare CR, LF or NUL,
// and a successful read always ends at the first CRLF.CRLF.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "\n.\n", "\r.\r\n.\r\n", "..x\r\n.\r\n", "\r\r\n.\r\r\n.\r\n", "\x00.\r\n"} {
		f.Add([]byte(s), false)
	}
	pool := new(sync.Pool) // a message over 512 bytes is gathered in its chunks
	f.Fuzz(func(t *testing.T, in []byte, reject bool) {
		mode := BareLFNormalize
		if reject {
			mode = BareLFReject
		}
		br := bufio.NewReaderSize(bytes.NewReader(in), 16)
		out, err := ReadData(br, DataOptions{BareLF: mode, MaxSize: 1 << 20, Chunks: pool})
		if err == io.ErrUnexpectedEOF {
			if bytes.Contains(append([]byte("\r\n"), in...), []byte("\r\n.\r\n")) {
				t.Fatalf("missed the end of data in %q", in)
			}
			return
		}
		if err != nil && !errors.Is(err, ErrNUL) && !IsFramingError(err) {
			t.Fatalf("unexpected error %v", err)
		}
		for i, c := range out {
			switch {
			case c == 0:
				t.Fatalf("NUL stored")
			case c == '\r' && (i+1 == len(out) || out[i+1] != '\n'):
				t.Fatalf("bare CR stored at %d: %q", i, out)
			case c == '\n' && (i == 0 || out[i-1] != '\r'):
				t.Fatalf("bare LF stored at %d: %q", i, out)
			}
		}
		if len(out) > 0 && !bytes.HasSuffix(out, crlf) {
			t.Fatalf("message does not end in CRLF: %q", out)
		}
		rest, _ := io.ReadAll(br)
		consumed := in[:len(in)-len(rest)]
		end := bytes.Index(append([]byte("\r\n"), consumed...), []byte("\r\n.\r\n"))
		if end+3 != len(consumed) {
			t.Fatalf("ended at %d, first CRLF.CRLF at %d in %q", len(consumed), end, in)
		}
	})
}

func benchmarkDataReader(b *testing.B, size int, opt DataOptions) {
	var msg bytes.Buffer
	line := strings.Repeat("abcdefghij", 7) + "\r\n" // 72 bytes
	for msg.Len() < size {
		msg.WriteString(line)
	}
	var wire bytes.Buffer
	if _, err := writeDotStuffed(&wire, msg.Bytes()); err != nil {
		b.Fatal(err)
	}
	in := wire.Bytes()
	rd := bytes.NewReader(in)
	br := bufio.NewReaderSize(rd, 16<<10)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(in)
		br.Reset(rd)
		if _, err := ReadData(br, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDataReader(b *testing.B) {
	b.Run("10KiB", func(b *testing.B) { benchmarkDataReader(b, 10<<10, DataOptions{MaxSize: 1 << 20, SizeHint: 10 << 10}) })
	b.Run("100KiB", func(b *testing.B) {
		benchmarkDataReader(b, 100<<10, DataOptions{MaxSize: 1 << 20, SizeHint: 100 << 10})
	})
	// Without a SIZE from the client, as smtp-source sends; with the
	// listener's chunk pool.
	b.Run("100KiB-nohint", func(b *testing.B) { benchmarkDataReader(b, 100<<10, DataOptions{MaxSize: 1 << 20}) })
	b.Run("100KiB-nohint-pool", func(b *testing.B) {
		benchmarkDataReader(b, 100<<10, DataOptions{MaxSize: 1 << 20, Chunks: new(sync.Pool)})
	})
	b.Run("1MiB-nohint-pool", func(b *testing.B) {
		benchmarkDataReader(b, 1<<20, DataOptions{MaxSize: 2 << 20, Chunks: new(sync.Pool)})
	})
}

// TestReadDataMaxLine: a line longer than MaxLine, CRLF and a stuffed dot
// included, is ErrLineTooLong after the whole data was read; a line of
// exactly MaxLine passes, split into pieces or not.
func TestReadDataMaxLine(t *testing.T) {
	const tail = "NOOP\r\n"
	opt := DataOptions{MaxLine: 40}
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"at the limit", strings.Repeat("a", 38) + "\r\n", nil},
		{"at the limit, stuffed", "." + strings.Repeat(".", 37) + "\r\n", nil},
		{"one over", strings.Repeat("a", 39) + "\r\n", ErrLineTooLong},
		{"one over, stuffed", "." + strings.Repeat(".", 38) + "\r\n", ErrLineTooLong},
		{"header", "Subject: " + strings.Repeat("s", 20000) + "\r\n\r\nx\r\n", ErrLineTooLong},
		{"body", "S: x\r\n\r\n" + strings.Repeat("b", 50000) + "\r\n", ErrLineTooLong},
		{"bare LF line", strings.Repeat("a", 45) + "\nx\r\n", ErrLineTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err, rest := readData(t, tc.in+".\r\n"+tail, opt)
			if err != tc.err {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if rest != tail {
				t.Fatalf("left %q in the stream, want %q", rest, tail)
			}
		})
	}
	// A bare CR still wins: the framing cannot be trusted.
	if _, err, _ := readData(t, strings.Repeat("a", 50)+"\r\nb\rc\r\n.\r\n", opt); err != ErrBareCR {
		t.Fatalf("err %v, want ErrBareCR", err)
	}
}

// TestReadDataOneAllocation: a message that arrived whole is stored in one
// allocation of its size, not grown by doubling from a small buffer.
func TestReadDataOneAllocation(t *testing.T) {
	body := strings.Repeat(strings.Repeat("x", 70)+"\r\n", 10<<10/72)
	in := body + ".\r\n"
	sr := strings.NewReader(in)
	r := bufio.NewReaderSize(sr, 16<<10)
	var out []byte
	allocs := testing.AllocsPerRun(20, func() {
		sr.Reset(in)
		r.Reset(sr)
		var err error
		if out, err = ReadData(r, DataOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if string(out) != body {
		t.Fatalf("read %d bytes, want the %d of the body", len(out), len(body))
	}
	if allocs > 1 {
		t.Errorf("%v allocations per message; want 1", allocs)
	}
}

// TestReadDataChunks: a message that outgrows its first buffer is gathered
// in chunks, with or without a pool, into the same bytes; with a pool it
// leaves about its own size as garbage, not several times it.
func TestReadDataChunks(t *testing.T) {
	var body strings.Builder
	for i := 0; body.Len() < 3*ChunkSize+1000; i++ {
		body.WriteString(strings.Repeat(string(rune('a'+i%26)), i%300) + "\r\n")
	}
	want := body.String()
	var wire bytes.Buffer
	if _, err := writeDotStuffed(&wire, []byte(want)); err != nil {
		t.Fatal(err)
	}
	in := wire.String()
	pool := new(sync.Pool)
	for _, opt := range []DataOptions{{}, {Chunks: pool}, {Chunks: pool, MaxSize: 1 << 20}} {
		got, err, rest := readData(t, in+"NOOP\r\n", opt)
		if err != nil || string(got) != want || rest != "NOOP\r\n" {
			t.Fatalf("chunks %v: err %v, %d bytes (want %d), rest %q", opt.Chunks != nil, err, len(got), len(want), rest)
		}
		if cap(got) != len(got) {
			t.Errorf("result has capacity %d for %d bytes", cap(got), len(got))
		}
	}
	// Too big across chunks: the chunks go back and nothing is kept.
	if _, err, _ := readData(t, in, DataOptions{Chunks: pool, MaxSize: 2*ChunkSize + 5}); err != ErrTooBig {
		t.Fatalf("err %v, want ErrTooBig", err)
	}
	sr := strings.NewReader(in)
	r := bufio.NewReaderSize(sr, 16<<10)
	var ms0, ms1 runtime.MemStats
	const runs = 20
	read := func() {
		sr.Reset(in)
		r.Reset(sr)
		if _, err := ReadData(r, DataOptions{Chunks: pool}); err != nil {
			t.Fatal(err)
		}
	}
	read() // fill the pool
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for range runs {
		read()
	}
	runtime.ReadMemStats(&ms1)
	perMsg := float64(ms1.TotalAlloc-ms0.TotalAlloc) / runs
	if perMsg > 1.5*float64(len(want)) {
		t.Errorf("%.0f bytes allocated per %d-byte message; want at most 1.5 times its size", perMsg, len(want))
	}
}
