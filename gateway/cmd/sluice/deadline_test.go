package main

import (
	"strings"
	"testing"
	"time"
)

// `sluice check` of a plugin that sleeps in sluice_configure ends at the
// plugin's init_timeout with a diagnostic naming the plugin and the export.
func TestCheckBoundedByInitTimeout(t *testing.T) {
	p := pluginPolicy(t, "sleepy", `plugin "sleepy" {
  wasm         = "sleepy.wasm"
  init_timeout = "500ms"
}
`)
	start := time.Now()
	code, _, stderr := runCLI("check", p)
	d := time.Since(start)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, w := range []string{"policy.hcl:3:1: Plugin failed to load", `plugin "sleepy"`,
		"sluice_configure: did not return within 500ms"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if d > 500*time.Millisecond+5*time.Second {
		t.Errorf("check took %v with init_timeout = 500ms", d)
	}
}
