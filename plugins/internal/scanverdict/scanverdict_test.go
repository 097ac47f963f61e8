package scanverdict

import (
	"strings"
	"testing"
)

func TestReplyText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Gtube pattern", "Gtube pattern"},
		{"  spam\r\n\tdetected \x00é ", "spam detected"},
		{"", "default"},
		{"\r\n\x01", "default"},
		{strings.Repeat("word ", 200), strings.TrimSpace(strings.Repeat("word ", 80))},
	} {
		if got := ReplyText(c.in, "default"); got != c.want || len(got) > 400 {
			t.Errorf("ReplyText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		cont bool
		bad  bool
	}{
		{Config{Scanner: "spam"}, false, false},
		{Config{Scanner: "spam", OnError: "tempfail"}, false, false},
		{Config{Scanner: "spam", OnError: "continue"}, true, false},
		{Config{Scanner: "spam", OnError: "reject"}, false, true},
		{Config{}, false, true},
		{Config{Scanner: "Spam"}, false, true},
	} {
		cont, err := c.cfg.Check()
		if cont != c.cont || (err != nil) != c.bad {
			t.Errorf("Check(%+v) = %v, %v", c.cfg, cont, err)
		}
	}
}

func TestHeaderValueAndName(t *testing.T) {
	if got := HeaderValue(" a\r\nb\x00c \n"); got != "a  b c" {
		t.Errorf("HeaderValue = %q", got)
	}
	for name, ok := range map[string]bool{"X-Spam": true, "": false, "a b": false, "a:b": false, "é": false} {
		if ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
}
