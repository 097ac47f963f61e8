package policy

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestMilterBlock(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		errs      []string // substrings of the formatted diagnostics, in order
		fronts    string
		network   string
	}{
		{"milter only needs no upstream", `milter { address = "127.0.0.1:11332" }`, nil, "milter 127.0.0.1:11332", "tcp"},
		{"unix socket", `milter { address = "unix:/run/sluice/milter.sock" }`, nil, "milter unix:/run/sluice/milter.sock", "unix"},
		{"relative socket path", `milter { address = "unix:milter.sock" }`, nil, "", "unix"},
		{"both front ends", "listen { address = \"127.0.0.1:2525\" }\nupstream { maildir = \"mail\" }\nmilter { address = \"127.0.0.1:11332\" }",
			nil, "smtp 127.0.0.1:2525, milter 127.0.0.1:11332", "tcp"},
		{"listen still needs an upstream", "listen { address = \"127.0.0.1:2525\" }\nmilter { address = \"127.0.0.1:11332\" }",
			[]string{"policy.hcl:1:1: Missing upstream block"}, "", ""},
		{"neither", `plugin "x" { wasm = "x.wasm" }`, []string{"policy.hcl:1:1: Missing listen block: A policy needs a listen block saying where to accept mail (or a milter block, for milter mode).", "policy.hcl:1:1: Missing upstream block"}, "", ""},
		{"bad address", `milter { address = "nowhere" }`, []string{`policy.hcl:1:10: Invalid milter address: address is "nowhere"`}, "", ""},
		{"empty socket", `milter { address = "unix:" }`, []string{"policy.hcl:1:10: Invalid milter address: unix: needs a socket path"}, "", ""},
		{"missing address", `milter { }`, []string{`policy.hcl:1:8: Missing required argument: The argument "address" is required`}, "", ""},
		{"not loopback", `milter { address = "0.0.0.0:11332" }`, nil, "milter 0.0.0.0:11332", "tcp"},
		{"two blocks", "milter { address = \"127.0.0.1:1\" }\nmilter { address = \"127.0.0.1:2\" }", []string{"policy.hcl:2:1: Duplicate milter block"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, diags := parseWithErrors(t, tc.src, tc.errs)
			if len(tc.errs) > 0 {
				return
			}
			if tc.fronts != "" {
				if f := strings.Join(p.Fronts(), ", "); f != tc.fronts {
					t.Errorf("fronts %q, want %q", f, tc.fronts)
				}
			}
			if p.Milter == nil || p.Milter.Network != tc.network {
				t.Errorf("milter %+v, want network %s", p.Milter, tc.network)
			}
			warned := false
			for _, d := range diags {
				warned = warned || strings.Contains(FormatDiagnostic(d), "Milter address not on loopback")
			}
			if want := strings.HasPrefix(tc.name, "not loopback"); warned != want {
				t.Errorf("loopback warning %v, want %v", warned, want)
			}
			if tc.network == "unix" && !strings.HasPrefix(p.Milter.Address, "/") {
				t.Errorf("socket path %q not absolute", p.Milter.Address)
			}
		})
	}
}

// parseWithErrors parses src as policy.hcl and checks that its errors, as
// FormatDiagnostic prints them, are one per errs, in order, each containing
// its string. It returns the policy and every diagnostic.
func parseWithErrors(t *testing.T, src string, errs []string) (*Policy, hcl.Diagnostics) {
	t.Helper()
	p, diags := Parse([]byte(src), "policy.hcl")
	var got []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			got = append(got, FormatDiagnostic(d))
		}
	}
	if len(got) != len(errs) {
		t.Fatalf("errors %q, want %d matching %q", got, len(errs), errs)
	}
	for i, want := range errs {
		if !strings.Contains(got[i], want) {
			t.Errorf("error %q, want it to contain %q", got[i], want)
		}
	}
	return p, diags
}
