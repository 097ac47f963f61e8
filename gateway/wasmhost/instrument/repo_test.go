package instrument

import (
	"os"
	"path/filepath"
	"testing"
)

// binDir is the repository's bin directory, seen from this package.
const binDir = "../../../bin"

// TestRepoModules instruments every module the repository builds (the
// first-party plugins, the example filters and the conformance probes of
// every SDK language) and checks that wazero accepts the result.
func TestRepoModules(t *testing.T) {
	var paths []string
	for _, dir := range []string{"plugins", "examples", "conformance"} {
		m, _ := filepath.Glob(filepath.Join(binDir, dir, "*.wasm"))
		if len(m) == 0 {
			t.Fatalf("no modules in %s: run make plugins examples probes", filepath.Join(binDir, dir))
		}
		paths = append(paths, m...)
	}
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Rewrite(b, 1<<20)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if err := validate(res.Wasm); err != nil {
				t.Fatalf("wazero refuses the instrumented module: %v", err)
			}
			t.Logf("%d -> %d bytes, largest frame cost %d", len(b), len(res.Wasm), res.MaxFrame)
		})
	}
}
