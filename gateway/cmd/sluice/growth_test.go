package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMessageGrowthUsesMaxMessageSize: the listener's max_message_size
// reaches the plugins, so one that appends to the body forever is stopped
// at that size (sdk/ABI.md §7), a plugin error whose on_error applies, and
// the message is left as it was.
func TestMessageGrowthUsesMaxMessageSize(t *testing.T) {
	dir := t.TempDir()
	wasm(t, dir, "bloat")
	p := writePolicy(t, dir, `listen {
  address          = "127.0.0.1:2525"
  max_message_size = "1MiB"
}
upstream { maildir = "mail" }
plugin "bloat" {
  wasm    = "bloat.wasm"
  timeout = "10s"
}
`)
	out := runTestJSON(t, dir, p, 4)
	var res struct {
		Action string
		Steps  []struct{ Plugin, Verdict, Error string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if res.Action != "tempfail" || len(res.Steps) != 1 || !strings.Contains(res.Steps[0].Error, "the message may be at most 1048576") {
		t.Fatalf("result %+v; want tempfail from a size error at 1 MiB", res)
	}
}
