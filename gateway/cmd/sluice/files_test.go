package main

import (
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
