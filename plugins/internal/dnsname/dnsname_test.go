package dnsname

import "testing"

func TestCheckLabels(t *testing.T) {
	lower := func(c byte) bool { return c >= 'a' && c <= 'z' || c == '-' }
	for _, tc := range []struct{ name, err string }{
		{"a.b-c", ""},
		{"a..b", "labels must be 1 to 63 bytes"},
		{"-a.b", "a label starts or ends with a hyphen"},
		{"a.B", "byte 0x42 is not a letter, digit or hyphen"},
	} {
		got := ""
		if err := CheckLabels(tc.name, lower); err != nil {
			got = err.Error()
		}
		if got != tc.err {
			t.Errorf("CheckLabels(%q) = %q, want %q", tc.name, got, tc.err)
		}
	}
}
