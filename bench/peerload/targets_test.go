package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLatency(t *testing.T) {
	p50, p99, err := parseLatency("p50=0.270ms p99=1.010ms n=500\n")
	if err != nil || p50 != 0.27 || p99 != 1.01 {
		t.Fatalf("got %v %v %v", p50, p99, err)
	}
	if _, _, err := parseLatency("latency: message 3: EOF\n"); err == nil {
		t.Fatal("no error without figures")
	}
}

const benchOut = `goos: linux
goarch: amd64
pkg: github.com/sluice-mail/sluice/gateway/wasmhost
BenchmarkHookCall/bench-2         	  200000	       567.7 ns/op	       0 B/op	       0 allocs/op
BenchmarkHookCall/bench-2         	  200000	       333.4 ns/op	       0 B/op	       0 allocs/op
BenchmarkHookCall/bench-2         	  200000	       375.8 ns/op	       0 B/op	       0 allocs/op
PASS
pkg: github.com/sluice-mail/sluice/gateway/e2e
BenchmarkGoPluginRcpt-2   	  200000	      2936 ns/op	      16 B/op	       1 allocs/op
BenchmarkGoPluginRcpt-2   	  200000	      2088.8 ns/op	      16 B/op	       1 allocs/op
BenchmarkSlow	  10	  5000 ns/op
`

func TestParseBench(t *testing.T) {
	best, order := parseBench(benchOut)
	if want := []string{"HookCall/bench", "GoPluginRcpt", "Slow"}; !slices.Equal(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
	if best["HookCall/bench"] != 333.4 || best["GoPluginRcpt"] != 2088.8 || best["Slow"] != 5000 {
		t.Fatalf("best %v", best)
	}
}

func TestHookRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hook.txt")
	if err := os.WriteFile(path, []byte(benchOut), 0o600); err != nil {
		t.Fatal(err)
	}
	rows := hookRows(path)
	if len(rows) != 3 {
		t.Fatalf("rows %+v", rows)
	}
	if !rows[0].ok || rows[0].value != "0.33 µs" || !strings.Contains(rows[0].what, "HookCall/bench") {
		t.Errorf("first %+v", rows[0])
	}
	if rows[1].ok || rows[2].ok {
		t.Errorf("2.09 and 5 µs met the 2 µs target: %+v", rows[1:])
	}
	// A failed benchmark run is a row that is not met, not a missing row.
	if err := os.WriteFile(path, []byte("FAIL\tgithub.com/sluice-mail/sluice/gateway/e2e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rows := hookRows(path); len(rows) != 1 || rows[0].ok || !strings.Contains(rows[0].value, "not measured") {
		t.Errorf("failed run: %+v", rows)
	}
	if rows := hookRows(filepath.Join(t.TempDir(), "missing")); len(rows) != 1 || rows[0].ok {
		t.Errorf("missing file: %+v", rows)
	}
}

func TestParseVmRSS(t *testing.T) {
	kib, err := parseVmRSS("Name:\tsluice\nVmPeak:\t  999 kB\nVmRSS:\t  187412 kB\nRssAnon:\t 1 kB\n")
	if err != nil || kib != 187412 {
		t.Fatalf("got %d %v", kib, err)
	}
	if _, err := parseVmRSS("Name:\tkthreadd\n"); err == nil {
		t.Fatal("no error without VmRSS")
	}
}

func TestVmRSSOfThisProcess(t *testing.T) {
	kib, err := vmRSS(os.Getpid())
	if err != nil || kib <= 0 {
		t.Fatalf("got %d %v", kib, err)
	}
}
