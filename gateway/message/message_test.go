package message

import (
	"bytes"
	"strings"
	"testing"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestParseKeepsFieldsAndFolding(t *testing.T) {
	raw := crlf("Received: from a\n\tby b\nSubject: hi\nsubject: dup\nX-8bit: caf\xe9\n\nbody line\n.dot\n")
	m, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Fields) != 4 {
		t.Fatalf("got %d fields", len(m.Fields))
	}
	if got := string(m.Fields[0].Value()); got != "from a\r\n\tby b" {
		t.Errorf("folded value = %q", got)
	}
	if m.Find([]byte("SUBJECT"), 1) != 2 || m.Find([]byte("subject"), 2) != -1 {
		t.Errorf("Find is not case-insensitive over duplicates")
	}
	if string(m.Fields[3].Value()) != "caf\xe9" {
		t.Errorf("8-bit value changed")
	}
	if string(m.Body) != "body line\r\n.dot\r\n" {
		t.Errorf("body = %q", m.Body)
	}
	if !bytes.Equal(m.Bytes(), raw) {
		t.Errorf("unchanged message not byte-identical")
	}
}

func TestMutationsRender(t *testing.T) {
	m, _ := Parse(crlf("A: 1\nB: 2\n\nbody\n"), Limits{})
	f, err := Render([]byte("X-Tag"), []byte("yes"))
	if err != nil {
		t.Fatal(err)
	}
	m.Insert(0, f)
	if _, err := m.Change(2, []byte("two")); err != nil {
		t.Fatal(err)
	}
	m.Delete(1)
	want := crlf("X-Tag: yes\nB: two\n\nbody\n")
	if got := m.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if m.Size() != len(want) {
		t.Errorf("Size %d != %d", m.Size(), len(want))
	}
}

func TestValidation(t *testing.T) {
	bad := []string{"a\r\n250 OK", "a\nb", "a\rb", "a\x00", "x\r\n", "x\r\n \r\n"}
	for _, v := range bad {
		if err := ValidValue([]byte("X"), []byte(v)); err == nil {
			t.Errorf("ValidValue(%q) accepted", v)
		}
	}
	// Length is no error: Render folds (fold_test.go).
	good := []string{"", "plain", "folded\r\n more", "caf\xe9", strings.Repeat("x", 995), strings.Repeat("x", 5000)}
	for _, v := range good {
		if err := ValidValue([]byte("X"), []byte(v)); err != nil {
			t.Errorf("ValidValue(%q): %v", v, err)
		}
	}
	for _, n := range []string{"", "a:b", "sp ace", strings.Repeat("n", 77), "ctl\x01"} {
		if ValidName([]byte(n)) == nil {
			t.Errorf("ValidName(%q) accepted", n)
		}
	}
	for _, b := range []string{"a\nb", "a\rb", "a\x00", strings.Repeat("x", 999) + "\r\n"} {
		if ValidBody([]byte(b)) == nil {
			t.Errorf("ValidBody(%q) accepted", b[:min(len(b), 20)])
		}
	}
}

func TestHeaderLimits(t *testing.T) {
	many := strings.Repeat("X: y\r\n", 101) + "\r\nbody"
	if _, err := Parse([]byte(many), Limits{MaxHeaderFields: 100}); err != ErrHeaderTooBig {
		t.Errorf("field limit: %v", err)
	}
	big := "X: " + strings.Repeat("y", 5000) + "\r\n\r\nbody"
	if _, err := Parse([]byte(big), Limits{MaxHeaderBytes: 4096}); err != ErrHeaderTooBig {
		t.Errorf("size limit: %v", err)
	}
}

func TestNoSeparator(t *testing.T) {
	raw := crlf("A: 1\nnot a header line\nmore\n")
	m, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Fields) != 1 || string(m.Body) != "not a header line\r\nmore\r\n" {
		t.Fatalf("fields %d body %q", len(m.Fields), m.Body)
	}
	if !bytes.Equal(m.Bytes(), raw) {
		t.Error("unchanged message not passed through")
	}
}

// FuzzParse: any input parses without panic, and an unchanged message is
// written back byte for byte; a changed one re-parses to the same fields.
func FuzzParse(f *testing.F) {
	f.Add([]byte("A: 1\r\n\tcont\r\nB: 2\r\n\r\nbody\r\n"))
	f.Add([]byte("no header\r\n"))
	f.Add([]byte("A: 1\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw, Limits{MaxHeaderBytes: 1 << 16, MaxHeaderFields: 1000})
		if err != nil {
			return
		}
		if !bytes.Equal(m.Bytes(), raw) {
			t.Fatal("unchanged message not byte-identical")
		}
		total := 0
		for _, fl := range m.Fields {
			total += len(fl.Raw)
		}
		if total+len(m.Body) > len(raw) {
			t.Fatal("fields and body longer than input")
		}
	})
}

// A field a plugin writes is "Name: value" CRLF: one space after the colon,
// the name as given, and the value reads back exactly as written, leading
// space and empty value included (sdk/ABI.md §4.4, "How a changed field is
// written").
func TestRenderRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, value, raw string }{
		{"X-Tag", "yes", "X-Tag: yes\r\n"},
		{"x-TAG", " padded", "x-TAG:  padded\r\n"},
		{"X-Empty", "", "X-Empty: \r\n"},
		{"X-Folded", "a\r\n\tb", "X-Folded: a\r\n\tb\r\n"},
	} {
		f, err := Render([]byte(tc.name), []byte(tc.value))
		if err != nil {
			t.Fatalf("Render(%q, %q): %v", tc.name, tc.value, err)
		}
		if string(f.Raw) != tc.raw || f.Name != tc.name || string(f.Value()) != tc.value {
			t.Errorf("Render(%q, %q) = %q (name %q, value %q), want %q", tc.name, tc.value, f.Raw, f.Name, f.Value(), tc.raw)
		}
	}
	m, err := Parse([]byte("Subject:hello\r\n\r\nbody\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Change(0, []byte("bye")); err != nil {
		t.Fatal(err)
	}
	if got := string(m.Fields[0].Raw); got != "Subject: bye\r\n" {
		t.Errorf("changed field = %q, want the name kept and one space after the colon", got)
	}
}
