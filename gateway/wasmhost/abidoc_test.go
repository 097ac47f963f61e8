package wasmhost

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// importLine is one signature line of sdk/ABI.md §4.0, such as
// (import "sluice" "header_find" (func $header_find (param i32 i32 i32) (result i32))).
var importLine = regexp.MustCompile(`^\(import "([a-z_]+)"\s+"([a-z_]+)"\s+\(func \$([a-z_]+)\s*(\(param(?: i32)+\))?\s*(\(result i32\))?\)\)$`)

// TestABIDocSignatures keeps sdk/ABI.md §4.0 and the host's function table
// in step: every host function is listed once with its exact parameter and
// result types, and the list names nothing the host lacks.
func TestABIDocSignatures(t *testing.T) {
	doc, err := os.ReadFile("../../sdk/ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	type sig struct{ params, results int }
	documented := map[string]sig{}
	for i, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "(import ") {
			continue
		}
		m := importLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("sdk/ABI.md:%d: cannot read the signature %q", i+1, line)
			continue
		}
		key := m[1] + "." + m[2]
		if m[3] != m[2] {
			t.Errorf("sdk/ABI.md:%d: %s is named $%s", i+1, key, m[3])
		}
		if _, dup := documented[key]; dup {
			t.Errorf("sdk/ABI.md:%d: %s is listed twice", i+1, key)
		}
		s := sig{params: strings.Count(m[4], "i32")}
		if m[5] != "" {
			s.results = 1
		}
		documented[key] = s
	}

	want := map[string]sig{}
	for _, h := range hostFuncs() {
		want[abi.ImportModule+"."+h.name] = sig{h.params, h.results}
	}
	abort := envAbortFunc()
	want[envModule+"."+abort.name] = sig{abort.params, abort.results}

	for name, w := range want {
		got, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("sdk/ABI.md §4.0 does not list %s (%d params, %d results)", name, w.params, w.results)
		case got != w:
			t.Errorf("sdk/ABI.md §4.0: %s has %d params and %d results; the host's has %d and %d",
				name, got.params, got.results, w.params, w.results)
		}
	}
	for name := range documented {
		if _, ok := want[name]; !ok {
			t.Errorf("sdk/ABI.md §4.0 lists %s, which the host does not provide", name)
		}
	}
}

// TestABIDocBuildFlags: every build flag the host names when it refuses a
// command module is in sdk/ABI.md §1.1, as the error spells it.
func TestABIDocBuildFlags(t *testing.T) {
	doc, err := os.ReadFile("../../sdk/ABI.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range strings.Split(reactorFlags, ", ") {
		lang, flag, ok := strings.Cut(entry, ": ")
		if !ok {
			t.Fatalf("cannot read %q", entry)
		}
		if !strings.Contains(string(doc), "`"+flag+"`") {
			t.Errorf("sdk/ABI.md does not name %s's build flag `%s`", lang, flag)
		}
	}
}
