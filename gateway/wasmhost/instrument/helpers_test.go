package instrument

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// wat compiles a WAT module with wat2wasm (Debian package wabt).
func wat(t testing.TB, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wasm2wat renders a module as text, for golden files and failures.
func wasm2wat(t testing.TB, b []byte) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("wasm2wat", "--enable-all", "--no-debug-names", in).CombinedOutput()
	if err != nil {
		t.Fatalf("wasm2wat: %v\n%s", err, out)
	}
	return string(out)
}

// watNames compiles a WAT module keeping its names in a "name" section.
func watNames(t testing.TB, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("wat2wasm", "--debug-names", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wasm2watNames renders a module as text with the names of its "name"
// section.
func wasm2watNames(t testing.TB, b []byte) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("wasm2wat", in).CombinedOutput()
	if err != nil {
		t.Fatalf("wasm2wat: %v\n%s", err, out)
	}
	return string(out)
}
