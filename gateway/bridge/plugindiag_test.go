package bridge

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// A plugin that refuses its config is reported at its config attribute, a
// missing grant at the grants attribute (or the block when it has none),
// and any other load error at the block.
func TestPluginLoadDiagnosticPositions(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Fatal("wat2wasm is required (make deps): ", err)
	}
	dir := t.TempDir()
	const head = `(module (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1))`
	for name, src := range map[string]string{
		"refuse": head + `
  (func (export "sluice_configure") (result i32) (i32.const 1)))`,
		"dns": `(module
  (import "sluice" "dns_lookup" (func (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "sluice_abi_version") (result i32) (i32.const 1)))`,
		"noexport": `(module (memory (export "memory") 1))`,
	} {
		wat := filepath.Join(dir, name+".wat")
		if err := os.WriteFile(wat, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("wat2wasm", wat, "-o", filepath.Join(dir, name+".wasm")).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", name, err, out)
		}
	}
	eng, err := wasmhost.NewEngine(context.Background(), wasmhost.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	for _, tc := range []struct {
		name, block string
		line, col   int
		want        string
	}{
		{"config refused", `plugin "p" {
  wasm   = "refuse.wasm"
  config = { limit = 3 }
}`, 9, 3, "refused its configuration"},
		{"grant missing", `plugin "p" {
  wasm   = "dns.wasm"
  grants = ["kv"]
}`, 9, 3, `needs the "dns" grant`},
		{"grant missing without grants", `plugin "p" {
  wasm = "dns.wasm"
}`, 7, 1, `needs the "dns" grant`},
		{"module refused", `plugin "p" {
  wasm   = "noexport.wasm"
  config = { limit = 3 }
}`, 7, 1, "does not export sluice_abi_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := scannerPolicy(t, dir, tc.block+"\n")
			g, diags := Build(context.Background(), p, Options{Engine: eng})
			if g != nil {
				g.Release()
			}
			if len(diags) != 1 || diags[0].Subject == nil || diags[0].Summary != "Plugin failed to load" ||
				!strings.Contains(diags[0].Detail, tc.want) {
				t.Fatalf("diagnostics %v; want one load failure saying %q", diags, tc.want)
			}
			if r := diags[0].Subject; filepath.Base(r.Filename) != "policy.hcl" || r.Start.Line != tc.line || r.Start.Column != tc.col {
				t.Errorf("reported at %s; want policy.hcl:%d:%d", r, tc.line, tc.col)
			}
		})
	}
}
