package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestScanAddresses(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // the addresses found, in order
		skipped int
		err     bool
	}{
		{in: "", want: nil},
		{in: "a@b", want: []string{"a@b"}},
		{in: "  a@b  ", want: []string{"a@b"}},
		{in: "A <a@b>, c@d", want: []string{"a@b", "c@d"}},
		{in: `"x, y" <a@b>`, want: []string{"a@b"}},
		{in: `"x \" <q@q>" <a@b>`, want: []string{"a@b"}},
		{in: `(c@d) a@b (e@f (nested g@h))`, want: []string{"a@b"}},
		{in: `(\) x@y) a@b`, want: []string{"a@b"}},
		{in: "<a@b>", want: []string{"a@b"}},
		{in: "John Q. Public <a@b>", want: []string{"a@b"}},
		{in: "a@b,,c@d,", want: []string{"a@b", "c@d"}},
		{in: "g: a@b, <c@d>;, e@f", want: []string{"a@b", "c@d", "e@f"}},
		{in: "g:;", want: nil},
		{in: "postmaster", want: nil},
		{in: "a@b\r\n\t,\r\n c@d", want: []string{"a@b", "c@d"}},
		{in: `<"a>b"@c>, d@e`, want: []string{"d@e"}, skipped: 1},
		{in: "a@[192.0.2.1]", skipped: 1},
		{in: "@b", skipped: 1},
		{in: "a@", skipped: 1},
		{in: "<a b@c>", skipped: 1},
		{in: "x y@z", skipped: 1},
		{in: "<a@b> <c@d>", skipped: 1},
		{in: "<a@b>)", skipped: 1},
		{in: `"a"`, skipped: 1},
		{in: `"unterminated`, err: true},
		{in: "(unterminated", err: true},
		{in: "(a\\", err: true},
		{in: "<a@b", err: true},
		{in: "<a<b>", err: true},
		{in: "g: a@b", err: true},
		{in: "a@b;", err: true},
		{in: ": a@b;", err: true},
		{in: "<x>: a@b;", err: true},
	}
	for _, tt := range tests {
		spans, skipped, err := scanAddresses(tt.in)
		if tt.err {
			if !errors.Is(err, errStructure) {
				t.Errorf("%q: err = %v, want errStructure", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		var got []string
		for _, sp := range spans {
			got = append(got, tt.in[sp.start:sp.end])
		}
		if !slices.Equal(got, tt.want) || skipped != tt.skipped {
			t.Errorf("%q: got %q, skipped %d; want %q, skipped %d", tt.in, got, skipped, tt.want, tt.skipped)
		}
	}
}

// FuzzScanAddresses checks that scanning never panics and that every span
// it reports is in bounds, in order, and a plain address.
func FuzzScanAddresses(f *testing.F) {
	for _, s := range []string{"a@b", `"x" <a@b>, (c) d@e`, "g: a@b;", "<@r:a@b>", `"\`, "(((", "<\"", "a@b\r\n c@d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		spans, _, err := scanAddresses(v)
		if err != nil {
			return
		}
		last := 0
		for _, sp := range spans {
			if sp.start < last || sp.end <= sp.start || sp.end > len(v) {
				t.Fatalf("%q: bad span %v", v, sp)
			}
			a := v[sp.start:sp.end]
			if plainAddress(a, 0, len(a)) == nil || strings.ContainsAny(a, " \t\r\n<>()\",") {
				t.Fatalf("%q: span %q is not a plain address", v, a)
			}
			last = sp.end
		}
	})
}
