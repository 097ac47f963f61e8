package dkimsign

import (
	"bytes"
	"testing"
)

// RFC 6376 §3.4.6 example.
func TestCanonicalizationRFCExample(t *testing.T) {
	fields := []string{"A: X\r\n", "B : Y\t\r\n\tZ  \r\n"}
	body := " C \r\nD \t E\r\n\r\n\r\n"

	var got []byte
	for _, f := range fields {
		got = canonHeader(got, canonRelaxed, []byte(f))
	}
	if want := "a:X\r\nb:Y Z\r\n"; string(got) != want {
		t.Errorf("relaxed header: %q, want %q", got, want)
	}
	got = got[:0]
	for _, f := range fields {
		got = canonHeader(got, canonSimple, []byte(f))
	}
	if want := "A: X\r\nB : Y\t\r\n\tZ  \r\n"; string(got) != want {
		t.Errorf("simple header: %q, want %q", got, want)
	}

	for _, c := range []struct {
		canon canon
		body  string
		want  string
	}{
		{canonRelaxed, body, " C\r\nD E\r\n"},
		{canonSimple, body, " C \r\nD \t E\r\n"},
		// §3.4.3: an empty body is one CRLF in simple; §3.4.4: empty in relaxed.
		{canonSimple, "", "\r\n"},
		{canonRelaxed, "", ""},
		{canonSimple, "\r\n\r\n", "\r\n"},
		{canonRelaxed, " \r\n\t\r\n", ""},
		{canonRelaxed, "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n"},
		{canonRelaxed, "a\r\n\r\n\r\nb \r\n \r\n", "a\r\n\r\n\r\nb\r\n"},
	} {
		var b bytes.Buffer
		if err := canonBody(&b, c.canon, []byte(c.body)); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%v body %q: %q, want %q", c.canon, c.body, b.String(), c.want)
		}
	}
}

func TestParseCanonicalization(t *testing.T) {
	for in, want := range map[string][2]canon{
		"":                {canonRelaxed, canonRelaxed},
		"relaxed":         {canonRelaxed, canonRelaxed},
		"simple":          {canonSimple, canonSimple},
		"relaxed/simple":  {canonRelaxed, canonSimple},
		"simple/relaxed":  {canonSimple, canonRelaxed},
		"simple/simple":   {canonSimple, canonSimple},
		"relaxed/relaxed": {canonRelaxed, canonRelaxed},
	} {
		h, b, ok := parseCanonicalization(in)
		if !ok || h != want[0] || b != want[1] {
			t.Errorf("%q: %v/%v %v", in, h, b, ok)
		}
	}
	for _, in := range []string{"Relaxed", "relaxed/", "/simple", "nofws", "relaxed/relaxed/relaxed", " simple"} {
		if _, _, ok := parseCanonicalization(in); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestHasBareCRLF(t *testing.T) {
	for in, want := range map[string]bool{
		"": false, "a\r\nb\r\n": false, "\r\n\r\n": false, "no line end": false,
		"a\rb": true, "a\nb": true, "\n": true, "a\r": true, "\r\r\n\n": true, "\n\r": true, "a\r\n\rb\n": true,
	} {
		if got := hasBareCRLF([]byte(in)); got != want {
			t.Errorf("hasBareCRLF(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestValidCanonicalization(t *testing.T) {
	for _, c := range canonicalizations {
		if !ValidCanonicalization(c) {
			t.Errorf("ValidCanonicalization(%q) = false", c)
		}
	}
	for _, c := range []string{"Relaxed", "relaxed/", "/simple", "nofws", "relaxed/relaxed/relaxed", " simple"} {
		if ValidCanonicalization(c) {
			t.Errorf("ValidCanonicalization(%q) = true", c)
		}
	}
}
