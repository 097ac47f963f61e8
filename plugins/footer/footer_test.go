package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/plugins/internal/mime"
	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

var update = flag.Bool("update", false, "rewrite the .out.eml files in testdata")

// goldenConfig is the configuration every golden file runs with. The text
// starts with the signature separator "-- " (RFC 3676 §4.3), whose trailing
// space quoted-printable must encode.
const goldenConfig = `{
	"text": "-- \nExample Corp: this e-mail is confidential.",
	"html": "<p style=\"color:gray\">Example Corp: this e-mail is confidential.</p>"
}`

const (
	goldenText = "-- \r\nExample Corp: this e-mail is confidential."
	goldenHTML = `<p style="color:gray">Example Corp: this e-mail is confidential.</p>`
)

// run configures a plugin, runs the data hook on raw and returns the session.
func run(t *testing.T, cfg string, raw []byte) (*sluicetest.Session, sluicetest.Result) {
	t.Helper()
	s := sluicetest.New()
	p := &footer{}
	if err := s.Configure(p, cfg); err != nil {
		t.Fatal(err)
	}
	s.SetEnvelope("a@example.org", "b@example.net")
	if err := s.SetMessage(raw); err != nil {
		t.Fatal(err)
	}
	r := s.Data(p)
	if r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
	}
	return s, r
}

// TestGolden runs each testdata/NAME.eml through the plugin and compares the
// message with testdata/NAME.out.eml (written with LF line ends). Each
// output is then checked against the input part by part, and run again to
// show that the footer is never added twice.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, ".out.eml") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := run(t, goldenConfig, in)
			got := s.Message()
			outFile := strings.TrimSuffix(file, ".eml") + ".out.eml"
			if *update {
				if err := os.WriteFile(outFile, bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n")), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(outFile)
			if err != nil {
				t.Fatal(err)
			}
			if want := toCRLF(want); !bytes.Equal(got, want) {
				t.Fatalf("message\n got %q\nwant %q", got, want)
			}
			checkParts(t, toCRLF(in), got)

			again, _ := run(t, goldenConfig, got)
			if !bytes.Equal(again.Message(), got) {
				t.Fatalf("second pass changed the message:\n%q", again.Message())
			}
			if len(again.Effects()) != 0 {
				t.Fatalf("second pass effects: %q", again.Effects())
			}
		})
	}
	if n == 0 {
		t.Fatal("no golden files")
	}
}

// toCRLF turns LF line ends into CRLF.
func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// checkParts checks the plugin's promises on one message: the top-level
// header is unchanged; the output has the same MIME parts with the same
// headers (a header without the empty line after it may only gain that
// line, see checkStructure); a part whose content changed is a text part that is not an
// attachment, and its decoded text holds the footer exactly once; lines of
// re-encoded parts are at most 76 characters.
func checkParts(t *testing.T, in, out []byte) {
	t.Helper()
	mIn, err := message.Parse(in, message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	mOut, err := message.Parse(out, message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	pin, pout := checkStructure(t, mIn, mOut, mime.Limits{})
	for i := range pin {
		a, b := &pin[i], &pout[i]
		ca, cb := a.Content(mIn.Body), b.Content(mOut.Body)
		if bytes.Equal(ca, cb) || b.IsContainer() {
			continue
		}
		if b.IsAttachment() || (b.MediaType != "text/plain" && b.MediaType != "text/html") {
			t.Errorf("part %d (%s) changed", i, b.MediaType)
			continue
		}
		foot := goldenText
		if b.MediaType == "text/html" {
			foot = goldenHTML
		}
		dec := decode(t, b.Encoding(), cb)
		if c := bytes.Count(bytes.ReplaceAll(dec, []byte("\r\n"), []byte("\n")), []byte(strings.ReplaceAll(foot, "\r\n", "\n"))); c != 1 {
			t.Errorf("part %d holds the footer %d times:\n%q", i, c, dec)
		}
		if enc := b.Encoding(); enc == "base64" || enc == "quoted-printable" {
			for _, line := range bytes.Split(cb, []byte("\r\n")) {
				if len(line) > 76 {
					t.Errorf("part %d: %s line of %d characters", i, enc, len(line))
				}
			}
		}
	}
}

// topHeader is m's header as the plugin sees it.
func topHeader(m *message.Message) mime.Header {
	var h mime.Header
	for _, f := range m.Fields {
		h = append(h, mime.Field{Name: f.Name, Value: string(f.Value())})
	}
	return h
}

// checkStructure checks that the plugin changed neither the message header
// nor the MIME structure of the body: parsing both gives the same parts
// (count, nesting, boundaries, media types, header fields, the delimiter
// lines between them), and each part
// header keeps its bytes, except that one without the empty line after it
// (HeaderUnended) may gain that line and only that. It returns both walks.
func checkStructure(t testing.TB, mIn, mOut *message.Message, lim mime.Limits) (pin, pout []mime.Part) {
	t.Helper()
	if !slices.EqualFunc(mIn.Fields, mOut.Fields, func(a, b message.Field) bool {
		return a.Name == b.Name && bytes.Equal(a.Value(), b.Value()) // the host may add a final CRLF
	}) {
		t.Fatalf("top-level header changed:\n%q\n%q", mIn.Fields, mOut.Fields)
	}
	// The host ends a changed body with a CRLF (a prefix keeps offsets).
	outBody := mOut.Body
	if !bytes.HasSuffix(mIn.Body, []byte("\r\n")) {
		outBody = bytes.TrimSuffix(outBody, []byte("\r\n"))
	}
	pin, errIn := mime.Parse(topHeader(mIn), mIn.Body, lim)
	pout, errOut := mime.Parse(topHeader(mOut), outBody, lim)
	if errIn != nil || errOut != nil {
		if errIn == nil || errOut == nil || !bytes.Equal(mIn.Body, outBody) {
			t.Fatalf("walks: %v, %v (a body past the limits must not change)", errIn, errOut)
		}
		return pin, pout
	}
	if !sameStructure(pin, pout, mIn.Body, outBody) {
		t.Fatalf("MIME structure changed: %d parts became %d\n%q", len(pin), len(pout), mOut.Body)
	}
	for i := range pin {
		a, b := &pin[i], &pout[i]
		ha, hb := mIn.Body[a.Start:a.BodyStart], mOut.Body[b.Start:b.BodyStart]
		if bytes.Equal(ha, hb) {
			continue
		}
		ended := slices.Clone(ha)
		if len(ended) > 0 && !bytes.HasSuffix(ended, []byte("\r\n")) {
			ended = append(ended, "\r\n"...)
		}
		ended = append(ended, "\r\n"...)
		if !a.HeaderUnended() || !bytes.Equal(hb, ended) || b.HeaderUnended() {
			t.Errorf("part %d: header changed:\n%q\n%q", i, ha, hb)
		}
	}
	return pin, pout
}

func decode(t *testing.T, cte string, b []byte) []byte {
	t.Helper()
	switch cte {
	case "base64":
		d, err := decodeBase64(b)
		if err != nil {
			t.Fatal(err)
		}
		return d
	case "quoted-printable":
		return decodeQP(t, b)
	}
	return b
}

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &footer{} }, []sluicetest.ConfigCase{
		{Name: "golden", JSON: goldenConfig},
		{Name: "text only", JSON: `{"text": "Confidential"}`},
		{Name: "CRLF text, limits", JSON: `{"text": "a\r\nb\r\n", "max_depth": 20, "max_parts": 2000}`},
		{Name: "utf-8", JSON: `{"text": "Vertraulich – bitte löschen"}`},
		{Name: "missing text", JSON: `{"html": "<p>x</p>"}`, WantErr: "text: must not be empty"},
		{Name: "blank text", JSON: `{"text": "\n\n"}`, WantErr: "text: must not be empty"},
		{Name: "typo", JSON: `{"txt": "x"}`, WantErr: `config.txt: unknown key`},
		{Name: "bare CR", JSON: `{"text": "a\rb"}`, WantErr: "0x0d"},
		{Name: "NUL", JSON: `{"text": "a\u0000"}`, WantErr: "0x00"},
		{Name: "escape", JSON: `{"html": "\u001b[1m", "text": "x"}`, WantErr: "0x1b"},
		{Name: "long line", JSON: `{"text": "` + strings.Repeat("x", 999) + `"}`, WantErr: "998"},
		{Name: "long html line", JSON: `{"text": "x", "html": "` + strings.Repeat("x", 999) + `"}`, WantErr: "html: line 1"},
		{Name: "escaping makes it too long", JSON: `{"text": "` + strings.Repeat("&", 300) + `"}`, WantErr: "escaped for HTML"},
		{Name: "huge", JSON: `{"text": "` + strings.Repeat(`x\n`, 9000) + `"}`, WantErr: "longer than"},
		{Name: "depth", JSON: `{"text": "x", "max_depth": 101}`, WantErr: "max_depth"},
		{Name: "parts", JSON: `{"text": "x", "max_parts": -1}`, WantErr: "max_parts"},
	})
}

func TestHTMLFromText(t *testing.T) {
	p := &footer{}
	if err := p.load(config{Text: "-- \n<Example & Co>"}); err != nil {
		t.Fatal(err)
	}
	if want := "<p>-- <br>\r\n&lt;Example &amp; Co&gt;</p>"; p.html != want {
		t.Fatalf("html = %q, want %q", p.html, want)
	}
}

// TestCases covers what golden files cannot show well: exact small bodies.
func TestCases(t *testing.T) {
	const cfg = `{"text": "FOOT", "html": "<p>FOOT</p>"}`
	tests := []struct {
		name, in, want string // want: the whole message, as the plugin leaves it
		effect         string // the single effect, "" for none
	}{
		{"non-MIME appends", "Subject: x\r\n\r\nHi\r\n", "Subject: x\r\n\r\nHi\r\nFOOT\r\n", "body_append 6 bytes"},
		{"no final line break", "Subject: x\r\n\r\nHi", "Subject: x\r\n\r\nHi\r\nFOOT", "body_append 6 bytes"},
		{"empty body", "Subject: x\r\n\r\n", "Subject: x\r\n\r\nFOOT\r\n", "body_append 6 bytes"},
		{"already there", "Subject: x\r\n\r\nHi\r\nFOOT\r\n", "Subject: x\r\n\r\nHi\r\nFOOT\r\n", ""},
		{"html before </body>", "Content-Type: text/html\r\n\r\n<body>x</BODY >\r\n", "Content-Type: text/html\r\n\r\n<body>x\r\n<p>FOOT</p>\r\n</BODY >\r\n", "body_replace"},
		{"html, last </body> wins", "Content-Type: text/html\r\n\r\n<p>&lt;/body&gt; </body></body>", "Content-Type: text/html\r\n\r\n<p>&lt;/body&gt; </body>\r\n<p>FOOT</p>\r\n</body>", "body_replace"},
		{"html </body> at the start", "Content-Type: text/html\r\n\r\n</body>", "Content-Type: text/html\r\n\r\n<p>FOOT</p>\r\n</body>", "body_replace"},
		{"html fragment", "Content-Type: text/html\r\n\r\n<b>x</b>", "Content-Type: text/html\r\n\r\n<b>x</b>\r\n<p>FOOT</p>", "body_append"},
		{"qp soft break at the end", "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nab=\r\n", "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nab=\r\n\r\nFOOT\r\n", "body_append"},
		{"qp no final line break", "Content-Transfer-Encoding: Quoted-Printable\r\n\r\nab", "Content-Transfer-Encoding: Quoted-Printable\r\n\r\nab\r\nFOOT", "body_append"},
		{"qp ends with a line break", "Content-Transfer-Encoding: quoted-printable\r\n\r\nab\r\n", "Content-Transfer-Encoding: quoted-printable\r\n\r\nab\r\nFOOT\r\n", "body_append"},
		{"qp encoded line break at the end", "Content-Transfer-Encoding: quoted-printable\r\n\r\nab=0D=0A", "Content-Transfer-Encoding: quoted-printable\r\n\r\nab=0D=0A=\r\nFOOT\r\n", "body_append"},
		{"qp soft break, no CRLF", "Content-Transfer-Encoding: quoted-printable\r\n\r\nab=", "Content-Transfer-Encoding: quoted-printable\r\n\r\nab=\r\n\r\nFOOT", "body_append"},
		{"flowed: a blank line ends the paragraph", "Content-Type: text/plain; format=flowed\r\n\r\nHello \r\n", "Content-Type: text/plain; format=flowed\r\n\r\nHello \r\n\r\nFOOT\r\n", "body_append"},
		{"flowed, no final line break", "Content-Type: text/plain; format=Flowed\r\n\r\nHello ", "Content-Type: text/plain; format=Flowed\r\n\r\nHello \r\n\r\nFOOT", "body_append"},
		{"flowed, fixed last line", "Content-Type: text/plain; format=flowed\r\n\r\nHello \r\nworld\r\n", "Content-Type: text/plain; format=flowed\r\n\r\nHello \r\nworld\r\nFOOT\r\n", "body_append"},
		{"flowed qp", "Content-Type: text/plain; format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello=20\r\n", "Content-Type: text/plain; format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello=20\r\n\r\nFOOT\r\n", "body_append"},
		{"flowed qp soft end", "Content-Type: text/plain; format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello =\r\n", "Content-Type: text/plain; format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello =\r\n\r\n\r\nFOOT\r\n", "body_append"},
		{"base64 empty", "Content-Transfer-Encoding: base64\r\n\r\n", "Content-Transfer-Encoding: base64\r\n\r\nRk9PVA0K", "body_append"},
		{"base64 unpadded", "Content-Transfer-Encoding: base64\r\n\r\nSGk\r\n", "Content-Transfer-Encoding: base64\r\n\r\nSGkNCkZPT1Q=\r\n", "body_replace"},
		{"broken base64 skipped", "Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n", "Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n", ""},
		{"unknown encoding skipped", "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n", "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n", ""},
		{"attachment skipped", "Content-Disposition: attachment\r\n\r\nx\r\n", "Content-Disposition: attachment\r\n\r\nx\r\n", ""},
		{"named text skipped", "Content-Type: text/plain; name=a.txt\r\n\r\nx\r\n", "Content-Type: text/plain; name=a.txt\r\n\r\nx\r\n", ""},
		{"other type skipped", "Content-Type: text/calendar\r\n\r\nx\r\n", "Content-Type: text/calendar\r\n\r\nx\r\n", ""},
		{"empty part in a multipart", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\r\n--b--\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nFOOT\r\n\r\n--b--\r\n", "body_replace"},
		// A part whose header has no empty line after it has no body: the
		// empty line goes in first, else the footer would be header fields.
		{"header without body", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n--b--\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFOOT\r\n\r\n--b--\r\n", "body_replace"},
		{"header and CRLF without body", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b--\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFOOT\r\n\r\n--b--\r\n", "body_replace"},
		{"header without body, no close delimiter", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFOOT\r\n", "body_append"},
		{"back to back boundaries", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b--\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nFOOT\r\n--b\r\n\r\nFOOT\r\n--b--\r\n", "body_replace"},
		{"qp header without body", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n--b--", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFOOT\r\n\r\n--b--", "body_replace"},
		{"base64 header without body", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n--b--", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nRk9PVA0K\r\n--b--", "body_replace"},
		{"attachment header without body left alone", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n--b--\r\n", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n--b--\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := run(t, cfg, []byte(tt.in))
			// The body as the plugin left it (the gateway adds a final
			// CRLF when it writes a changed body without one).
			_, want, _ := strings.Cut(tt.want, "\r\n\r\n")
			if got := string(s.Body()); got != want {
				t.Fatalf("body\n got %q\nwant %q", got, want)
			}
			eff := s.Effects()
			if tt.effect == "" {
				if len(eff) != 0 {
					t.Fatalf("effects %q", eff)
				}
				return
			}
			if len(eff) != 1 || !strings.HasPrefix(eff[0], tt.effect) {
				t.Fatalf("effects %q, want %q", eff, tt.effect)
			}
		})
	}
}

// TestFooterLineIsBoundary: a footer line that is "--" and an enclosing
// boundary would end the part and start another (or close the multipart).
// The plugin leaves such a message alone: boundaries and parts never
// change.
func TestFooterLineIsBoundary(t *testing.T) {
	dashes := strings.Repeat("-", 11)
	for _, msg := range []string{
		"Content-Type: multipart/mixed; boundary=\"---------\"\r\n\r\n" + dashes + "\r\n\r\nHi\r\n" + dashes + "--\r\n",
		"Content-Type: multipart/mixed; boundary=\"-------\"\r\n\r\n---------\r\n\r\nHi\r\n-----------\r\n",
	} {
		s, _ := run(t, `{"text": "Thanks\n`+dashes+`\nExample Corp"}`, []byte(msg))
		if string(s.Message()) != msg || len(s.Effects()) != 0 {
			t.Fatalf("message changed:\n%q", s.Message())
		}
		if logs := s.Logs(); len(logs) != 1 || !strings.Contains(logs[0].Text, "MIME structure") {
			t.Fatalf("logs = %+v", logs)
		}
	}
}

func TestCharset(t *testing.T) {
	const utf8Config = `{"text": "Vertraulich – bitte löschen"}`
	msg := func(charset string) []byte {
		return []byte("Content-Type: text/plain; charset=" + charset + "\r\n\r\nHallo\r\n")
	}
	for _, cs := range []string{"utf-8", "UTF-8", "us-ascii", "utf8"} {
		s, _ := run(t, utf8Config, msg(cs))
		if !strings.HasSuffix(string(s.Message()), "Hallo\r\nVertraulich – bitte löschen\r\n") {
			t.Errorf("charset %s: %q", cs, s.Message())
		}
	}
	s, _ := run(t, utf8Config, msg("iso-8859-1"))
	if !bytes.Equal(s.Message(), msg("iso-8859-1")) {
		t.Fatalf("latin-1 part changed: %q", s.Message())
	}
	if logs := s.Logs(); len(logs) != 1 || !strings.Contains(logs[0].Text, "charset iso-8859-1, and the footer is not ASCII") {
		t.Fatalf("logs = %+v", logs)
	}
	// An ASCII footer goes into any charset.
	s, _ = run(t, `{"text": "Confidential"}`, msg("iso-8859-1"))
	if !strings.HasSuffix(string(s.Message()), "Hallo\r\nConfidential\r\n") {
		t.Fatalf("%q", s.Message())
	}
}

func TestLimitsLeaveMessageAlone(t *testing.T) {
	deep := func(n int) string {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=b0\r\n\r\n")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
		}
		fmt.Fprintf(&b, "--b%d\r\n\r\nleaf\r\n", n-1)
		return b.String()
	}
	many := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\nx\r\n", 100000) + "--b--\r\n"
	long := strings.Repeat("x", 10*1024)
	tests := []struct{ name, msg, log string }{
		{"1000 deep", deep(1000), "max_depth"},
		{"10^5 parts", many, "max_parts"},
		{"10 KB boundary", "Content-Type: multipart/mixed; boundary=" + long + "\r\n\r\n--" + long + "\r\n\r\nx\r\n", "boundary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := run(t, `{"text": "FOOT"}`, []byte(tt.msg))
			if !bytes.Equal(s.Message(), []byte(tt.msg)) || len(s.Effects()) != 0 {
				t.Fatal("message changed")
			}
			if logs := s.Logs(); len(logs) != 1 || !strings.Contains(logs[0].Text, tt.log) {
				t.Fatalf("logs = %+v", logs)
			}
		})
	}
	// Within a raised limit the footer goes in.
	s, _ := run(t, `{"text": "FOOT", "max_depth": 20}`, []byte(deep(15)))
	if !strings.HasSuffix(string(s.Message()), "leaf\r\nFOOT\r\n") {
		t.Fatalf("%q", s.Message()[len(s.Message())-40:])
	}
}

func TestOverlongLineInOriginalBody(t *testing.T) {
	// The host refuses a new body with a line over 998 bytes, even one the
	// client sent: the plugin must not touch such a body.
	in := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\nContent-Type: image/png\r\n\r\n" +
		strings.Repeat("A", 1200) + "\r\n--b--\r\n"
	s, _ := run(t, `{"text": "FOOT"}`, []byte(in))
	if string(s.Message()) != in {
		t.Fatal("message changed")
	}
	if logs := s.Logs(); len(logs) != 1 || !strings.Contains(logs[0].Text, "998") {
		t.Fatalf("logs = %+v", logs)
	}
}

func TestEncoders(t *testing.T) {
	long := strings.Repeat("é", 100) + " \r\nend\t"
	qp := encodeQP([]byte(long), true)
	for _, line := range strings.Split(strings.TrimSuffix(string(qp), "\r\n"), "\r\n") {
		if len(line) > 76 {
			t.Fatalf("QP line of %d characters", len(line))
		}
		if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
			t.Fatalf("QP line ends in whitespace: %q", line)
		}
	}
	if got := decodeQP(t, qp); string(got) != long+"\r\n" {
		t.Fatalf("QP round trip %q", got)
	}
	b := encodeBase64(bytes.Repeat([]byte{0xff, 0x00, 0x41}, 100), false)
	for _, line := range strings.Split(string(b), "\r\n") {
		if len(line) > 76 {
			t.Fatalf("base64 line of %d characters", len(line))
		}
	}
	if d, err := decodeBase64(b); err != nil || !bytes.Equal(d, bytes.Repeat([]byte{0xff, 0x00, 0x41}, 100)) {
		t.Fatalf("base64 round trip: %v", err)
	}
}

func decodeQP(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
