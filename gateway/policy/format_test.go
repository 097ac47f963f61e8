package policy

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestWriteDiagnostics(t *testing.T) {
	at := func(file string, line, col int) *hcl.Range {
		return &hcl.Range{Filename: file, Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: line, Column: col + 1}}
	}
	diags := hcl.Diagnostics{
		Error("b.hcl", at("b.hcl", 1, 1), "In b", "first file sorts after a"),
		Warning("a.hcl", at("a.hcl", 12, 3), "Slow", "careful"),
		Error("a.hcl", at("a.hcl", 2, 9), "Later column", "x"),
		Error("a.hcl", at("a.hcl", 2, 3), "Earlier column", "multi\nline\n  detail"),
		Error("a.hcl", nil, "Whole file", "no position"),
		{Severity: hcl.DiagError, Summary: "No subject", Detail: "from elsewhere"},
		Error("a.hcl", at("a.hcl", 20, 1), "No detail", ""),
	}
	var b strings.Builder
	WriteDiagnostics(&b, diags)
	want := `No subject: from elsewhere
a.hcl: Whole file: no position
a.hcl:2:3: Earlier column: multi line detail
a.hcl:2:9: Later column: x
a.hcl:12:3: warning: Slow: careful
a.hcl:20:1: No detail
b.hcl:1:1: In b: first file sorts after a
`
	if b.String() != want {
		t.Errorf("got:\n%swant:\n%s", b.String(), want)
	}
	if diags[0].Summary != "In b" {
		t.Error("WriteDiagnostics reordered its argument")
	}
}

func TestErrorHelper(t *testing.T) {
	// The loader reports a plugin that fails to compile at its header.
	p, diags := Parse([]byte(okBoth+"plugin \"dkim\" {\n  wasm = \"dkim.wasm\"\n}\n"), "policy.hcl")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	d := Error(p.File, &p.Plugins[0].DefRange, "Cannot compile plugin", "dkim.wasm: invalid magic number")
	if d.Severity != hcl.DiagError {
		t.Error("not an error")
	}
	if got, want := FormatDiagnostic(d), "policy.hcl:7:1: Cannot compile plugin: dkim.wasm: invalid magic number"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// A diagnostic without a range names the file alone.
	if got, want := FormatDiagnostic(Warning("/etc/p.hcl", nil, "Stale", "")), "/etc/p.hcl: warning: Stale"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0":             0,
		"1024":          1024,
		"12B":           12,
		"512KiB":        512 << 10,
		"25MiB":         25 << 20,
		"25 MiB":        25 << 20,
		" 4GiB ":        4 << 30,
		"25mib":         25 << 20,
		"2KB":           2000,
		"3MB":           3000000,
		"1GB":           1000000000,
		"8589934591GiB": 8589934591 << 30,
	}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "+1", "1.5MiB", "12XB", "1 2", "1KiB1", "8589934592GiB", "99999999999999999999"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestNames(t *testing.T) {
	cases := []struct {
		s            string
		domain, helo bool
	}{
		{"mx.example.org", true, true},
		{"localhost", true, true},
		{"a-b.c1", true, true},
		{"-a.example", false, false},
		{"a-.example", false, false},
		{"a..b", false, false},
		{"a.b.", false, false},
		{"mx_1.example", false, false},
		{strings.Repeat("a", 64) + ".example", false, false},
		{"[192.0.2.1]", false, true},
		{"[IPv6:2001:db8::1]", false, true},
		{"[2001:db8::1]", false, false},
		{"[IPv6:192.0.2.1]", false, false},
		{"[192.0.2.1", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		if got := validDomain(c.s); got != c.domain {
			t.Errorf("validDomain(%q) = %v", c.s, got)
		}
		if got := validHeloName(c.s); got != c.helo {
			t.Errorf("validHeloName(%q) = %v", c.s, got)
		}
	}
	for _, c := range []struct {
		s              string
		listen, remote bool
	}{
		{"127.0.0.1:25", true, true},
		{"[::1]:25", true, true},
		{"mx.example.org:25", true, true},
		{":25", true, false},
		{"127.0.0.1:0", true, false},
		{"127.0.0.1", false, false},
		{"127.0.0.1:smtp", false, false},
		{"127.0.0.1:65536", false, false},
		{"bad_host:25", false, false},
	} {
		if got := validHostPort(c.s, true); got != c.listen {
			t.Errorf("validHostPort(%q, listen) = %v", c.s, got)
		}
		if got := validHostPort(c.s, false); got != c.remote {
			t.Errorf("validHostPort(%q, upstream) = %v", c.s, got)
		}
	}
	for s, want := range map[string]bool{"a": true, "0": true, "dkim-sign_2": true, "Tag": false, "_a": false, "-a": false, "a.b": false, "a b": false, "": false} {
		if validPluginName(s) != want {
			t.Errorf("validPluginName(%q) = %v", s, !want)
		}
	}
}
