package policy

import (
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestConsoleBlock(t *testing.T) {
	const base = "listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\n"
	for _, tc := range []struct {
		name, src string
		errs      []string // substrings of the formatted errors, in order
		want      Console  // without ranges
		ranges    []string // attributes whose range is kept
	}{
		{"absent: the defaults", "", nil, Console{Enabled: true}, nil},
		{"empty block: the defaults", "console {}\n", nil, Console{Enabled: true}, nil},
		{"every attribute", "console {\n  enabled = false\n  size = 5000\n  hash_addresses = true\n  headers = true\n}\n", nil,
			Console{Size: 5000, HashAddresses: true, Headers: true}, []string{"enabled", "size", "hash_addresses", "headers"}},
		{"hash only", "console { hash_addresses = true }\n", nil, Console{Enabled: true, HashAddresses: true}, []string{"hash_addresses"}},
		{"null keeps the default", "console { size = null }\n", nil, Console{Enabled: true}, []string{"size"}},
		{"largest ring", "console { size = 100000 }\n", nil, Console{Enabled: true, Size: MaxConsoleSize}, []string{"size"}},
		{"size zero", "console { size = 0 }\n", []string{"policy.hcl:3:11: Value out of range: size must be at least 1, not 0."}, Console{}, nil},
		{"size too large", "console { size = 100001 }\n", []string{"policy.hcl:3:11: Value out of range: size must be at most 100000, not 100001."}, Console{}, nil},
		{"size a fraction", "console { size = 10.5 }\n", []string{"policy.hcl:3:11: Invalid value: size must be a whole number"}, Console{}, nil},
		{"hash not a bool", "console { hash_addresses = \"yes\" }\n", []string{"policy.hcl:3:11: Incorrect attribute value type"}, Console{}, nil},
		{"unknown attribute", "console { ring = 10 }\n", []string{"policy.hcl:3:11: Unsupported argument"}, Console{}, nil},
		{"two blocks", "console {}\nconsole {}\n", []string{"policy.hcl:4:1: Duplicate console block: A policy has at most one console block; the first is at policy.hcl:3:1."}, Console{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := parseWithErrors(t, base+tc.src, tc.errs)
			if len(tc.errs) > 0 {
				return
			}
			c := p.Console
			if tc.src != "" && c.Range.Start.Line != 3 {
				t.Errorf("block range %v, want line 3", c.Range)
			}
			if len(c.Ranges) != len(tc.ranges) {
				t.Errorf("ranges %v, want %v", c.Ranges, tc.ranges)
			}
			for _, name := range tc.ranges {
				if r, ok := c.Ranges[name]; !ok || r.Filename != "policy.hcl" || r.Start.Line < 3 {
					t.Errorf("range of %s: %v", name, r)
				}
			}
			c.Range, c.Ranges = hcl.Range{}, nil
			if !reflect.DeepEqual(c, tc.want) {
				t.Errorf("console %+v, want %+v", c, tc.want)
			}
		})
	}
}
