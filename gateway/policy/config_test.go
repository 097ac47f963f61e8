package policy

import (
	"encoding/json"
	"testing"
)

func TestConfigJSON(t *testing.T) {
	cases := []struct {
		expr, want string
	}{
		{"", "{}"}, // absent
		{"null", "{}"},
		{`"text"`, `"text"`},
		{"42", "42"},
		{"-7", "-7"},
		{"0.1", "0.1"},
		{"2.5e-3", "0.0025"},
		{"1e21", "1000000000000000000000"},
		{"18446744073709551616", "18446744073709551616"}, // 2^64, beyond int64
		{"1e300", "1e+300"},
		{"true", "true"},
		{"[]", "[]"},
		{"{}", "{}"},
		{`[1, "a", true, null, [2, [3]]]`, `[1,"a",true,null,[2,[3]]]`},
		{`{ b = 1, a = { c = [], "d-e" = { f = false } } }`, `{"a":{"c":[],"d-e":{"f":false}},"b":1}`},
		{`{ list = [{ n = 1 }, { n = 2 }] }`, `{"list":[{"n":1},{"n":2}]}`},
		{`"quote \" backslash \\ tab \t é <&>"`, `"quote \" backslash \\ tab \t é <&>"`},
		{`{ "<a&b>" = "<a&b>" }`, `{"<a&b>":"<a&b>"}`},
		// The example of sdk/ABI.md §4.1.1.
		{`{ b = [1, 2.5, "<x&y>"], a = { on = true, none = null } }`, `{"a":{"none":null,"on":true},"b":[1,2.5,"<x&y>"]}`},
		{`"line\nsep \u2028 nul-free \u0001"`, `"line\nsep \u2028 nul-free \u0001"`},
		{`"${upper("x")}-${1 + 2}"`, `"X-3"`},
		{`{ for k in ["x", "y"] : k => upper(k) }`, `{"x":"X","y":"Y"}`},
		{`[for n in [1, 2, 3] : n * 2]`, `[2,4,6]`},
	}
	for _, tc := range cases {
		src := okBoth + "plugin \"p\" {\n  wasm = \"p.wasm\"\n"
		if tc.expr != "" {
			src += "  config = " + tc.expr + "\n"
		}
		src += "}\n"
		p, diags := Parse([]byte(src), "policy.hcl")
		if len(diags) > 0 {
			t.Errorf("config = %s: %v", tc.expr, diags)
			continue
		}
		got := string(p.Plugins[0].Config)
		if got != tc.want {
			t.Errorf("config = %s: got %s, want %s", tc.expr, got, tc.want)
		}
		if !json.Valid(p.Plugins[0].Config) {
			t.Errorf("config = %s: invalid JSON %s", tc.expr, got)
		}
	}
}

func TestConfigTooDeep(t *testing.T) {
	expr := "1"
	for range maxConfigDepth + 1 {
		expr = "[" + expr + "]"
	}
	got := diagLines(t, okBoth+"plugin \"p\" {\n  wasm = \"p.wasm\"\n  config = "+expr+"\n}\n")
	want := "policy.hcl:9:3: Invalid plugin configuration: The configuration cannot be passed to the plugin as JSON: nested too deeply."
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConfigNumberRange(t *testing.T) {
	for _, n := range []string{"1e999", "-1e999", "1e-999", "1e999999"} {
		got := diagLines(t, okBoth+"plugin \"p\" {\n  wasm = \"p.wasm\"\n  config = { n = "+n+" }\n}\n")
		want := "policy.hcl:9:3: Invalid plugin configuration: The configuration cannot be passed to the plugin as JSON: a number is beyond the range of a 64-bit float."
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want %q", n, got, want)
		}
	}
}
