package dkimcanon

import (
	"bytes"
	"context"
	"testing"
)

// RFC 6376 §3.4.6 example.
func TestCanonicalizationRFCExample(t *testing.T) {
	fields := []string{"A: X\r\n", "B : Y\t\r\n\tZ  \r\n"}
	body := " C \r\nD \t E\r\n\r\n\r\n"

	var got []byte
	for _, f := range fields {
		got = Header(got, Relaxed, []byte(f))
	}
	if want := "a:X\r\nb:Y Z\r\n"; string(got) != want {
		t.Errorf("relaxed header: %q, want %q", got, want)
	}
	got = got[:0]
	for _, f := range fields {
		got = Header(got, Simple, []byte(f))
	}
	if want := "A: X\r\nB : Y\t\r\n\tZ  \r\n"; string(got) != want {
		t.Errorf("simple header: %q, want %q", got, want)
	}

	for _, c := range []struct {
		canon Canon
		body  string
		want  string
	}{
		{Relaxed, body, " C\r\nD E\r\n"},
		{Simple, body, " C \r\nD \t E\r\n"},
		// §3.4.3: an empty body is one CRLF in simple; §3.4.4: empty in relaxed.
		{Simple, "", "\r\n"},
		{Relaxed, "", ""},
		{Simple, "\r\n\r\n", "\r\n"},
		{Relaxed, " \r\n\t\r\n", ""},
		{Relaxed, "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n"},
		{Relaxed, "a\r\n\r\n\r\nb \r\n \r\n", "a\r\n\r\n\r\nb\r\n"},
	} {
		var b bytes.Buffer
		if err := Body(context.Background(), &b, c.canon, []byte(c.body)); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%v body %q: %q, want %q", c.canon, c.body, b.String(), c.want)
		}
	}
}

func TestHasBareCRLF(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "a\r\nb\r\n": false, "\r\n\r\n": false, "no line end": false,
		"a\rb": true, "a\nb": true, "\n": true, "a\r": true, "\r\r\n\n": true, "\n\r": true, "a\r\n\rb\n": true,
	} {
		if got := HasBareCRLF([]byte(in)); got != want {
			t.Errorf("HasBareCRLF(%q) = %v, want %v", in, got, want)
		}
	}
}

// Relaxed header forms a verifier meets besides well-formed fields: a name
// with WSP around it, a stray CR or LF in the value (WSP, like a folding
// CRLF), a field without a colon (all name), an empty value.
func TestHeaderRelaxedOddFields(t *testing.T) {
	for in, want := range map[string]string{
		" Subject \t: a\r\n":       "subject:a\r\n",
		"X: a\rb\r\n":              "x:a b\r\n",
		"X: a\nb\r\n":              "x:a b\r\n",
		"X: a\r\n\r\n b\r\n":       "x:a b\r\n",
		"No-Colon Here\r\n":        "no-colon here:\r\n",
		"X:\r\n":                   "x:\r\n",
		"X: \t \r\n\t\r\n":         "x:\r\n",
		"Mixed-CASE:V A L U E\r\n": "mixed-case:V A L U E\r\n",
	} {
		if got := string(Header(nil, Relaxed, []byte(in))); got != want {
			t.Errorf("Header(%q) = %q, want %q", in, got, want)
		}
		if got := string(Header([]byte("kept"), Simple, []byte(in))); got != "kept"+in {
			t.Errorf("simple Header(%q) = %q", in, got)
		}
	}
}

func TestFixBareLF(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "a\r\nb": "a\r\nb", "\n": "\r\n", "a\nb\n": "a\r\nb\r\n", "\n\n": "\r\n\r\n",
		"\r\n\n": "\r\n\r\n", "a\rb\n": "a\rb\r\n", "\r\r\n": "\r\r\n", "x\n\r\n\n": "x\r\n\r\n\r\n",
	} {
		got := FixBareLF([]byte(in))
		if string(got) != want {
			t.Errorf("FixBareLF(%q) = %q, want %q", in, got, want)
		}
	}
	// No copy without a bare LF.
	b := []byte("a\r\nb\r\n")
	if got := FixBareLF(b); &got[0] != &b[0] {
		t.Error("FixBareLF copied a body without bare LF")
	}
}
