package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A policy whose wasm names a device, a FIFO or a file over 64 MiB is
// refused at the wasm attribute, promptly: `wasm = "/dev/zero"` used to
// make `sluice check` read until the Go runtime aborted.
func TestCheckRefusesUnboundedModules(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "plugin.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.wasm")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64<<20 + 1) // sparse
	f.Close()
	for path, want := range map[string]string{
		"/dev/zero": "not a regular file (a character device)",
		fifo:        "not a regular file (a FIFO)",
		huge:        "file is larger than 64 MiB",
	} {
		writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
plugin "a" {
  wasm = "`+path+`"
}
`)
		start := time.Now()
		code, _, stderr := runCLI("check", filepath.Join(dir, "policy.hcl"))
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("%s: check took %v", path, el)
		}
		if code != 1 || !strings.Contains(stderr, "policy.hcl:4:3: Cannot read plugin module: ") || !strings.Contains(stderr, want) {
			t.Errorf("%s: check = %d\n%s\nwant policy.hcl:4:3 and %q", path, code, stderr, want)
		}
	}
}

// A kv path whose directory is missing, is a file, or cannot take new
// files fails `sluice check` and start-up at the path attribute, instead
// of every save failing later and the state being lost at restart. /sys
// refuses new files even to root.
func TestKVPathMustBeWritable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "afile"), nil, 0o600)
	for path, want := range map[string]string{
		"missing/kv.db": "no such file or directory",
		"afile/kv.db":   "is not a directory",
		"/sys/kv.db":    "is not writable",
		".":             "is not a regular file",
	} {
		policy := writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
kv {
  path = "`+path+`"
}
`)
		code, _, stderr := runCLI("check", policy)
		if code != 1 || !strings.Contains(stderr, "policy.hcl:4:3: Cannot keep the key/value store: ") || !strings.Contains(stderr, want) {
			t.Errorf("kv path %q: check = %d\n%s\nwant policy.hcl:4:3 and %q", path, code, stderr, want)
		}
		if _, err := openKV(policy, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "policy.hcl:4:3: Cannot keep the key/value store") {
			t.Errorf("kv path %q: start-up error %v, want the diagnostic", path, err)
		}
	}
	os.Mkdir(filepath.Join(dir, "state"), 0o700)
	policy := writePolicy(t, dir, `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
kv { path = "state/kv.db" }
`)
	if code, _, stderr := runCLI("check", policy); code != 0 {
		t.Errorf("writable kv directory: check = %d\n%s", code, stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "state")); len(ents) != 0 {
		t.Errorf("check left %d files in the kv directory", len(ents))
	}
}
