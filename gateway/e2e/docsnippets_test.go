package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/internal/docsnippet"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// Every ```hcl block of the repository's Markdown (README.md, docs/, sdk/,
// examples/, plugins/*/README.md) and every policy file (policies/*.hcl,
// examples/postfix/*/policy.hcl)
// passes `sluice check` without a warning, laid out as on an installed
// machine (gateway/internal/docsnippet says how, and how fragments are
// marked). No example can rot, and none is an open relay: an SMTP upstream
// without xclient or xforward is a warning.
func TestDocSnippets(t *testing.T) {
	root := repoRoot()
	snips, err := docsnippet.Find(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(snips) < 10 {
		t.Fatalf("found only %d ```hcl blocks", len(snips))
	}
	shipped, _ := filepath.Glob(filepath.Join(root, "policies", "*.hcl"))
	examples, _ := filepath.Glob(filepath.Join(root, "examples", "*", "*", "*.hcl"))
	if len(shipped) < 3 || len(examples) < 2 {
		t.Fatalf("found %d shipped and %d example policies", len(shipped), len(examples))
	}
	for _, f := range append(shipped, examples...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		snips = append(snips, docsnippet.Snippet{File: filepath.ToSlash(rel), Line: 1, Source: string(b)})
	}
	dir := t.TempDir()
	for _, s := range snips {
		t.Run(s.String(), func(t *testing.T) {
			path, err := s.Sandbox(dir, binDir)
			if err != nil {
				t.Fatal(err)
			}
			if s.DecodeOnly {
				if _, diags := policy.Load(path); len(diags) > 0 {
					var b strings.Builder
					policy.WriteDiagnostics(&b, diags)
					t.Errorf("%s (fragment lines start at %d):\n%s", s, docsnippet.WrapperLines+1, b.String())
				}
				return
			}
			cmd := exec.Command(filepath.Join(binDir, "sluice"), "check", "--cache-dir", cacheDir, "--log-level", "error", path)
			// examples/postfix/*/policy.hcl find the plugins here, as
			// their systemd unit's environment would say.
			cmd.Env = append(os.Environ(), "SLUICE_PLUGINS="+filepath.Join(binDir, "plugins"))
			out, err := cmd.CombinedOutput()
			if err != nil || strings.Contains(string(out), "warning:") {
				hint := ""
				if s.Fragment {
					hint = " (a fragment: its first line is line 3 of the checked file)"
				}
				t.Errorf("%s%s: sluice check: %v\n%s", s, hint, err, out)
			}
		})
	}
}
