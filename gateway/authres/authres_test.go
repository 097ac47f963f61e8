package authres

import (
	"strings"
	"testing"
)

func TestKeyword(t *testing.T) {
	if got := Keyword("TempError"); got != "temperror" {
		t.Errorf("Keyword = %q", got)
	}
	if got := Keyword("\r\n"); got != "none" {
		t.Errorf("Keyword of nothing = %q", got)
	}
	for _, k := range []string{"pass", "a", strings.Repeat("z", 32)} {
		if got := Keyword(k); got != k {
			t.Errorf("Keyword(%q) = %q", k, got)
		}
	}
	if got := Keyword("pass1"); got != "pass" {
		t.Errorf("Keyword(pass1) = %q", got)
	}
	if got := Keyword(strings.Repeat("a", 40)); len(got) != 32 {
		t.Errorf("Keyword not cut: %d bytes", len(got))
	}
}

func TestValue(t *testing.T) {
	if got := Value("a b\t(c);d\"e\\f\x00g\xffh"); got != "abcdefgh" {
		t.Errorf("Value = %q", got)
	}
	if got := Value(strings.Repeat("x", 300)); len(got) != MaxValue {
		t.Errorf("Value not cut: %d bytes", len(got))
	}
	if in := "example.org"; Value(in) != in {
		t.Errorf("Value changed a clean value")
	}
}
