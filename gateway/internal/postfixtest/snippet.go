package postfixtest

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// placeholder is the form of the placeholders in examples/postfix.
var placeholder = regexp.MustCompile(`@[A-Z][A-Z_]*@`)

// ExamplesDir is the repository's examples/postfix directory.
func ExamplesDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("postfixtest: cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "postfix")
}

// Snippet reads a configuration snippet of examples/postfix (name is
// relative to it, for example "mx-front/main.cf") and fills its @NAME@
// placeholders from vars, keyed without the @ signs. A placeholder left in a
// line that is not a comment fails the test, as does a var the file does not
// use: the examples and the tests cannot drift apart. It returns the lines,
// comments included, ready for Options.MainCF or Options.MasterCF.
func Snippet(t testing.TB, name string, vars map[string]string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ExamplesDir(t), name))
	if err != nil {
		t.Fatalf("postfixtest: %v", err)
	}
	text := string(b)
	for k, v := range vars {
		ph := "@" + k + "@"
		if !strings.Contains(text, ph) {
			t.Fatalf("postfixtest: %s has no placeholder %s", name, ph)
		}
		text = strings.ReplaceAll(text, ph, v)
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if ph := placeholder.FindString(l); ph != "" {
			t.Fatalf("postfixtest: %s:%d: placeholder %s not filled", name, i+1, ph)
		}
	}
	return lines
}
