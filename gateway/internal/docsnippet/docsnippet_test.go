package docsnippet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/policy"
)

func write(t *testing.T, root, name, text string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Blocks are found in the documented files only, with their info words;
// a one-line block with two arguments (the README's old resolver line) is
// found and fails to decode; an unknown word is an error, not a skip.
func TestFind(t *testing.T) {
	root := t.TempDir()
	write(t, root, "README.md", "# x\n```sh\n```hcl inside sh\n```\n\n```hcl\nresolver { servers = [\"127.0.0.1:53\"], timeout = \"2s\" }\n```\n")
	write(t, root, "sdk/go/README.md", "```hcl fragment\nplugin \"a\" {\n  wasm = \"a.wasm\"\n}\n```\n")
	write(t, root, "plugins/tag/NOTES.md", "```hcl\nnot = checked\n```\n")
	write(t, root, "examples/x/README.md", "```hcl fragment decode-only\nkv { path = \"/var/lib/sluice/kv.db\" }\n```\n")
	got, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.String())
	}
	if strings.Join(names, " ") != "README.md:7 sdk/go/README.md:2 examples/x/README.md:2" {
		t.Fatalf("found %q", names)
	}
	if _, diags := policy.Parse([]byte(got[0].Policy()), "r.hcl"); !diags.HasErrors() {
		t.Error("the one-line resolver block with two arguments decoded")
	}
	if !got[1].Fragment || got[1].DecodeOnly || !strings.HasPrefix(got[1].Policy(), wrapper) {
		t.Errorf("fragment: %+v", got[1])
	}

	// Sandbox: installed paths move into the sandbox, and the kv
	// directory is created there.
	dir := t.TempDir()
	path, err := got[2].Sandbox(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"`+dir+`/var/lib/sluice/kv.db"`) {
		t.Errorf("sandboxed policy:\n%s", b)
	}
	if fi, err := os.Stat(filepath.Join(dir, "var", "lib", "sluice")); err != nil || !fi.IsDir() {
		t.Errorf("kv directory not created: %v", err)
	}

	write(t, root, "sdk/go/README.md", "```hcl fragmnet\n```\n")
	if _, err := Find(root); err == nil || !strings.Contains(err.Error(), `unknown word "fragmnet"`) {
		t.Errorf("a misspelt info word gave %v", err)
	}
}
