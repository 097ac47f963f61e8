package mime

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// lf turns "\n" into CRLF, as a message body on the wire has it.
func lf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// describe renders the parts as "depth type parent content" lines.
func describe(parts []Part, body []byte) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%d %s %d %q\n", p.Depth, p.MediaType, p.Parent, p.Content(body))
	}
	return b.String()
}

func ct(v string) Header { return Header{{Name: "Content-Type", Value: " " + v}} }

func TestParseStructure(t *testing.T) {
	tests := []struct {
		name string
		top  Header
		body string
		want string
	}{
		{
			name: "non-MIME",
			body: "Hello\n",
			want: "0 text/plain -1 \"Hello\\r\\n\"\n",
		},
		{
			name: "nested with preamble and epilogue",
			top:  ct(`multipart/mixed; boundary="outer"`),
			body: "preamble\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\n\nplain\n--inner\nContent-Type: text/html\n\n<p>html</p>\n\n--inner--\n--outer\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERg==\n--outer--\nepilogue\n",
			want: `0 multipart/mixed -1 "preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\r\n--inner--\r\n--outer\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--outer--\r\nepilogue\r\n"
1 multipart/alternative 0 "--inner\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\r\n--inner--"
2 text/plain 1 "plain"
2 text/html 1 "<p>html</p>\r\n"
1 application/pdf 0 "JVBERg=="
`,
		},
		{
			name: "transport padding, prefix boundary, missing close delimiter",
			top:  ct(`multipart/mixed; boundary=b`),
			body: "--b \t\n\none\n--bb\n--b-x\n--b\n\ntwo",
			want: "0 multipart/mixed -1 \"--b \\t\\r\\n\\r\\none\\r\\n--bb\\r\\n--b-x\\r\\n--b\\r\\n\\r\\ntwo\"\n" +
				"1 text/plain 0 \"one\\r\\n--bb\\r\\n--b-x\"\n" +
				"1 text/plain 0 \"two\"\n",
		},
		{
			name: "delimiter not at line start is text",
			top:  ct(`multipart/mixed; boundary=b`),
			body: "--b\n\nx --b\n--b--",
			want: "0 multipart/mixed -1 \"--b\\r\\n\\r\\nx --b\\r\\n--b--\"\n1 text/plain 0 \"x --b\"\n",
		},
		{
			name: "empty parts",
			top:  ct(`multipart/mixed; boundary=b`),
			body: "--b\n--b\n\n\n--b--\n",
			want: "0 multipart/mixed -1 \"--b\\r\\n--b\\r\\n\\r\\n\\r\\n--b--\\r\\n\"\n1 text/plain 0 \"\"\n1 text/plain 0 \"\"\n",
		},
		{
			name: "digest defaults to message/rfc822, walked",
			top:  ct(`multipart/digest; boundary=d`),
			body: "--d\n\nSubject: inner\nContent-Type: text/html\n\n<b>x</b>\n--d--\n",
			want: "0 multipart/digest -1 \"--d\\r\\n\\r\\nSubject: inner\\r\\nContent-Type: text/html\\r\\n\\r\\n<b>x</b>\\r\\n--d--\\r\\n\"\n" +
				"1 message/rfc822 0 \"Subject: inner\\r\\nContent-Type: text/html\\r\\n\\r\\n<b>x</b>\"\n" +
				"2 text/html 1 \"<b>x</b>\"\n",
		},
		{
			name: "base64 message/rfc822 is a leaf",
			top:  Header{{"Content-Type", " message/rfc822"}, {"Content-Transfer-Encoding", " base64"}},
			body: "U3ViamVjdDogeA==\n",
			want: "0 message/rfc822 -1 \"U3ViamVjdDogeA==\\r\\n\"\n",
		},
		{
			name: "multipart without boundary is a leaf",
			top:  ct(`multipart/mixed`),
			body: "--b\n\nx\n",
			want: "0 multipart/mixed -1 \"--b\\r\\n\\r\\nx\\r\\n\"\n",
		},
		{
			name: "invalid Content-Type is text/plain",
			top:  ct(`garbage`),
			body: "x",
			want: "0 text/plain -1 \"x\"\n",
		},
		{
			name: "malformed parameters still give the boundary",
			top:  ct(`Multipart/Mixed; boundary="b"; boundary="c"; junk`),
			body: "--b\n\nx\n--b--",
			want: "0 multipart/mixed -1 \"--b\\r\\n\\r\\nx\\r\\n--b--\"\n1 text/plain 0 \"x\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := lf(tt.body)
			parts, err := Parse(tt.top, body, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			checkOrder(t, parts)
			if got := describe(parts, body); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseOffsetsAndHeaders(t *testing.T) {
	body := lf("--b\nContent-Type: text/plain;\n charset=utf-8\nContent-Disposition: attachment;\n\tfilename=\"a.txt\"\n\nhi\n--b--\n")
	parts, err := Parse(ct("multipart/mixed; boundary=b"), body, Limits{})
	if err != nil || len(parts) != 2 {
		t.Fatalf("%d parts, %v", len(parts), err)
	}
	p := parts[1]
	if got := string(body[p.Start:p.BodyStart]); !strings.HasPrefix(got, "Content-Type:") || !strings.HasSuffix(got, "\"a.txt\"\r\n\r\n") {
		t.Fatalf("header bytes %q", got)
	}
	if p.Charset() != "utf-8" || p.Disposition() != "attachment" || !p.IsAttachment() || p.Encoding() != "" {
		t.Fatalf("charset %q disposition %q", p.Charset(), p.Disposition())
	}
	if got := p.Filenames(); len(got) != 1 || got[0] != "a.txt" {
		t.Fatalf("filenames %q", got)
	}
	if p.Header[0].Value != " text/plain;\r\n charset=utf-8" {
		t.Fatalf("raw value %q", p.Header[0].Value)
	}
}

// TestHeaderUnended: a part whose header has no empty line after it (the
// CRLF before the delimiter belongs to the delimiter), and an empty part
// between back-to-back delimiters, have no body; the others do.
func TestHeaderUnended(t *testing.T) {
	body := lf("--B\nContent-Type: text/plain\n--B\nContent-Type: text/html\n\n--B\n--B\n\n--B\n\n\n--B\nX: 1\n\nhi\n--B--\n")
	parts, err := Parse(ct("multipart/mixed; boundary=B"), body, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var got []bool
	for _, p := range parts {
		got = append(got, p.HeaderUnended())
		if p.HeaderUnended() && p.BodyStart != p.End {
			t.Errorf("part at %d: unended header, but content %q", p.Start, p.Content(body))
		}
	}
	want := []bool{false, true, true, true, true, false, false}
	if !slices.Equal(got, want) {
		t.Fatalf("HeaderUnended %v, want %v", got, want)
	}
	if parts[1].MediaType != "text/plain" || parts[2].MediaType != "text/html" {
		t.Fatalf("types %q %q", parts[1].MediaType, parts[2].MediaType)
	}
}

func TestParseLimits(t *testing.T) {
	deep := func(n int) (Header, []byte) {
		var b strings.Builder
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
		}
		b.WriteString("--b" + fmt.Sprint(n-1) + "\r\n\r\nleaf\r\n")
		return ct("multipart/mixed; boundary=b0"), []byte(b.String())
	}
	many := func(n int) (Header, []byte) {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString("--b\r\n\r\nx\r\n")
		}
		b.WriteString("--b--\r\n")
		return ct("multipart/mixed; boundary=b"), []byte(b.String())
	}
	rfc822 := func(n int) (Header, []byte) {
		return ct("message/rfc822"), []byte(strings.Repeat("Content-Type: message/rfc822\r\n\r\n", n) + "x\r\n")
	}
	long := strings.Repeat("x", 10*1024)

	tests := []struct {
		name  string
		build func() (Header, []byte)
		lim   Limits
		err   error
		parts int // parts returned with the error, or in all
	}{
		{"1000 deep", func() (Header, []byte) { return deep(1000) }, Limits{}, ErrTooDeep, 12},
		{"11 deep", func() (Header, []byte) { return deep(11) }, Limits{}, ErrTooDeep, 12},
		{"10 deep is fine", func() (Header, []byte) { return deep(10) }, Limits{}, nil, 11},
		{"depth 3", func() (Header, []byte) { return deep(10) }, Limits{MaxDepth: 3}, ErrTooDeep, 5},
		{"1000 nested messages", func() (Header, []byte) { return rfc822(1000) }, Limits{}, ErrTooDeep, 12},
		{"10^5 parts", func() (Header, []byte) { return many(100000) }, Limits{}, ErrTooManyParts, 500},
		{"499 parts plus the top", func() (Header, []byte) { return many(499) }, Limits{}, nil, 500},
		{"500 parts plus the top", func() (Header, []byte) { return many(500) }, Limits{}, ErrTooManyParts, 500},
		{"10 KB boundary", func() (Header, []byte) {
			return ct("multipart/mixed; boundary=" + long), []byte("--" + long + "\r\n\r\nx\r\n")
		}, Limits{}, ErrBoundaryTooLong, 1},
		{"70-byte boundary", func() (Header, []byte) {
			return ct("multipart/mixed; boundary=" + long[:70]), []byte("--" + long[:70] + "\r\n\r\nx\r\n")
		}, Limits{}, nil, 2},
		{"71-byte boundary", func() (Header, []byte) {
			return ct("multipart/mixed; boundary=" + long[:71]), []byte("--" + long[:71] + "\r\n\r\nx\r\n")
		}, Limits{}, ErrBoundaryTooLong, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top, body := tt.build()
			parts, err := Parse(top, body, tt.lim)
			if !errors.Is(err, tt.err) || len(parts) != tt.parts {
				t.Fatalf("Parse = %d parts, %v; want %d, %v", len(parts), err, tt.parts, tt.err)
			}
			checkOrder(t, parts)
		})
	}
}

func TestParseHeaderEdges(t *testing.T) {
	tests := []struct {
		in        string
		fields    int
		bodyStart int
		ended     bool
	}{
		{"A: 1\r\nB: 2\r\n\r\nbody", 2, 14, true},
		{"\r\nbody", 0, 2, true},
		{"A: 1\r\n folded\r\n\r\n", 1, 17, true},
		{"A: 1\r\nnot a field\r\n", 1, 6, true},
		{" continuation first\r\n", 0, 0, true},
		{"A : spaced\r\n\r\n", 1, 14, true},
		{"A: no final CRLF", 1, 16, false},
		{"A: final CRLF, no empty line\r\n", 1, 30, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		h, bs, ended := parseHeader([]byte(tt.in), 0, len(tt.in))
		if len(h) != tt.fields || bs != tt.bodyStart || ended != tt.ended {
			t.Errorf("%q: %d fields, body at %d, ended %v; want %d, %d, %v", tt.in, len(h), bs, ended, tt.fields, tt.bodyStart, tt.ended)
		}
	}
	h, _, _ := parseHeader([]byte("A : x\r\n y\r\n\r\n"), 0, 13)
	if v, ok := h.Get("a"); !ok || v != "x y" || h[0].Name != "A" {
		t.Fatalf("Get = %q, %v; name %q", v, ok, h[0].Name)
	}
}

// checkOrder checks that parts are in document order and that each parent
// comes before its children and encloses them.
func checkOrder(t *testing.T, parts []Part) {
	t.Helper()
	for i, p := range parts {
		if i > 0 && p.Start < parts[i-1].Start {
			t.Fatalf("part %d starts at %d, before part %d at %d", i, p.Start, i-1, parts[i-1].Start)
		}
		if p.Parent >= i || (i > 0 && p.Parent < 0) {
			t.Fatalf("part %d has parent %d", i, p.Parent)
		}
		if p.Parent >= 0 {
			q := parts[p.Parent]
			if p.Start < q.BodyStart || p.End > q.End || p.Depth != q.Depth+1 {
				t.Fatalf("part %d [%d,%d) depth %d outside its parent [%d,%d) depth %d", i, p.Start, p.End, p.Depth, q.BodyStart, q.End, q.Depth)
			}
		}
	}
}
