package sluice

import (
	"strings"
	"testing"
	"time"
)

func TestCheckReply(t *testing.T) {
	for _, tc := range []struct {
		enh  string
		code int
		ok   bool
	}{
		{"5.7.1", 550, true}, {"4.7.1", 451, true}, {"5.123.999", 554, true},
		{"4.7.1", 550, false}, {"5.7", 550, false}, {"5.7.1234", 550, false}, {"55.7.1", 550, false}, {"5.x.1", 550, false},
	} {
		if err := CheckEnhanced(tc.enh, tc.code); (err == nil) != tc.ok {
			t.Errorf("CheckEnhanced(%q, %d) = %v", tc.enh, tc.code, err)
		}
	}
	if CheckReplyText("ok text", 400) != nil || CheckReplyText("bad\r\n250 OK", 400) == nil || CheckReplyText("long", 3) == nil {
		t.Error("CheckReplyText")
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalJSON([]byte(`"35d"`)); err != nil || time.Duration(d) != 35*24*time.Hour {
		t.Fatalf("35d: %v %v", d, err)
	}
	if err := d.UnmarshalJSON([]byte(`"90s"`)); err != nil || time.Duration(d) != 90*time.Second {
		t.Fatalf("90s: %v %v", d, err)
	}
	for _, bad := range []string{`"hour"`, `"-1d"`, `"+1d"`, `5`} {
		if d.UnmarshalJSON([]byte(bad)) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestConfigReply(t *testing.T) {
	def := Reply{550, "5.7.1", "Denied"}
	r, err := ConfigReply(Reply{}, def, 0)
	if err != nil || r != def {
		t.Errorf("defaults: %+v %v", r, err)
	}
	r, err = ConfigReply(Reply{Code: 451, Text: "Later"}, def, 400)
	if err != nil || r != (Reply{451, "4.7.1", "Later"}) {
		t.Errorf("4xx code: %+v %v", r, err)
	}
	for _, c := range []struct {
		code      int
		enh, text string
		want      string
	}{
		{250, "", "", "code 250 is not a 4xx or 5xx reply code"},
		{600, "", "", "code 600 is not a 4xx or 5xx reply code"},
		{550, "4.7.1", "", `enhanced "4.7.1"`},
		{550, "", "bad\r\ntext", "message:"},
		{550, "", strings.Repeat("x", 401), "message: longer than 400 bytes"},
	} {
		if _, err := ConfigReply(Reply{c.code, c.enh, c.text}, def, 0); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ConfigReply(%d, %q, %q): %v, want %q", c.code, c.enh, c.text, err, c.want)
		}
	}
}
