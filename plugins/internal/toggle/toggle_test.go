package toggle

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		value, err string
		on         bool
	}{
		{"", "", false},
		{"reject", "", false},
		{"tag", "", true},
		{"Tag", `mode: "Tag" is neither "reject" nor "tag"`, false},
	} {
		on, err := Parse("mode", tc.value, "reject", "tag")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Parse(%q): error %v, want %q", tc.value, err, tc.err)
			}
			continue
		}
		if err != nil || on != tc.on {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.value, on, err, tc.on)
		}
	}
}
