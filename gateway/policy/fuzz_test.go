package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the decoder: it must not panic, and
// whatever it accepts must be self-consistent.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hcl")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, tc := range diagnosticCases {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte(okBoth + "plugin \"p\" {\n  wasm = \"p.wasm\"\n  config = { a = [1e999999, -0.0] }\n}\n"))
	f.Add([]byte("locals {\n  a = local.a\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, diags := Parse(src, "fuzz.hcl")
		for _, d := range diags {
			_ = FormatDiagnostic(d)
		}
		if diags.HasErrors() {
			return
		}
		if p == nil {
			t.Fatal("nil policy without errors")
		}
		if !validHostPort(p.Listen.Address, true) {
			t.Errorf("accepted listen address %q", p.Listen.Address)
		}
		if (p.Upstream.Address == "") == (p.Upstream.Maildir == "") {
			t.Errorf("accepted upstream %+v", p.Upstream)
		}
		for _, pl := range p.Plugins {
			if !validPluginName(pl.Name) || pl.Wasm == "" || !filepath.IsAbs(pl.Wasm) {
				t.Errorf("accepted plugin %+v", pl)
			}
			if !json.Valid(pl.Config) {
				t.Errorf("plugin %s: config %q is not JSON", pl.Name, pl.Config)
			}
			if pl.Timeout <= 0 || pl.Timeout > maxPluginTimeout || pl.Memory < minPluginMemory || pl.Memory > maxPluginMemory {
				t.Errorf("plugin %s: limits out of range: %s %d", pl.Name, pl.Timeout, pl.Memory)
			}
		}
	})
}
