package smtp

import (
	"strings"
	"testing"
)

func TestValidHostName(t *testing.T) {
	good := []string{"mx.example.org", "mx.example.org.", "a", "under_score.example", strings.Repeat("a", 63) + ".b"}
	bad := []string{"", ".", "a..b", "sp ace.example", "x\r\n", strings.Repeat("a", 64) + ".b", strings.Repeat("a.", 127) + "ab", "[127.0.0.1]"}
	for _, s := range good {
		if !ValidHostName(s) {
			t.Errorf("ValidHostName(%q) = false", s)
		}
	}
	for _, s := range bad {
		if ValidHostName(s) {
			t.Errorf("ValidHostName(%q) = true", s)
		}
	}
}
