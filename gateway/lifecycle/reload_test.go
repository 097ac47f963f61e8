package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

const validPolicy = `listen { address = "127.0.0.1:2525" }
upstream { maildir = "mail" }
`

type harness struct {
	path   string
	builds atomic.Int32
	parses atomic.Int32
	swaps  atomic.Int32
	r      *Reloader
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{path: filepath.Join(dir, "policy.hcl")}
	if err := os.WriteFile(h.path, []byte(validPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	md, err := upstream.NewMaildir(filepath.Join(dir, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	build := func(ctx context.Context, p *policy.Policy) (*bridge.Generation, hcl.Diagnostics) {
		h.builds.Add(1)
		return bridge.Build(ctx, p, bridge.Options{Upstream: md})
	}
	parse := func(path string) (*policy.Policy, hcl.Diagnostics) {
		h.parses.Add(1)
		return policy.Load(path)
	}
	h.r = NewReloader(h.path, mustLoad(t, h.path), ReloaderOptions{Parse: parse, Build: build, Swap: func(g *bridge.Generation) { h.swaps.Add(1); g.Release() }})
	return h
}

func mustLoad(t *testing.T, path string) *policy.Policy {
	t.Helper()
	p, diags := policy.Load(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func TestReloadRules(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if res := h.r.Reload(ctx); res.Status != "unchanged" || h.builds.Load() != 0 {
		t.Fatalf("unchanged policy: %+v, %d builds", res, h.builds.Load())
	}
	os.WriteFile(h.path, []byte(validPolicy+"# a comment changes the bytes\n"), 0o644)
	if res := h.r.Reload(ctx); res.Status != "ok" || res.Generation != 2 || h.swaps.Load() != 1 {
		t.Fatalf("changed policy: %+v swaps %d", res, h.swaps.Load())
	}
	os.WriteFile(h.path, []byte("listen { address = \n"), 0o644)
	res := h.r.Reload(ctx)
	if res.Status != "failed" || res.Generation != 2 || h.swaps.Load() != 1 {
		t.Fatalf("broken policy: %+v swaps %d", res, h.swaps.Load())
	}
	if want := "policy.hcl:"; len(res.Diagnostics) == 0 || !strings.Contains(res.Diagnostics, want) {
		t.Fatalf("diagnostics %q lack %q", res.Diagnostics, want)
	}
	// The broken bytes are not remembered: fixing the file reloads.
	os.WriteFile(h.path, []byte(validPolicy), 0o644)
	if res := h.r.Reload(ctx); res.Status != "ok" || res.Generation != 3 {
		t.Fatalf("fixed policy: %+v", res)
	}
}

func TestWatchReloadsWithin2s(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	h.r.watching = make(chan struct{})
	go func() { done <- h.r.Watch(ctx, 100*time.Millisecond) }()
	select {
	case <-h.r.watching:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher did not start")
	}
	start := time.Now()
	os.WriteFile(h.path, []byte(validPolicy+"# edited\n"), 0o644)
	for h.r.Generation() != 2 {
		if time.Since(start) > 2*time.Second {
			t.Fatal("policy change not noticed within 2 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A rotated DKIM key file changes the fingerprint, so saving a new key
// reloads the policy even though the policy file is the same.
func TestFingerprintCoversDKIMKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.hcl")
	key := filepath.Join(dir, "dkim.pem")
	src := validPolicy + `dkim_key "main" {
  domain           = "example.org"
  selector         = "s1"
  private_key_file = "dkim.pem"
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("first key"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, files := Fingerprint(mustLoad(t, path))
	if !slices.Contains(files, key) {
		t.Fatalf("Fingerprint files %q lack the DKIM key %s", files, key)
	}
	if err := os.WriteFile(key, []byte("second key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if after, _ := Fingerprint(mustLoad(t, path)); after == before {
		t.Error("the fingerprint did not change when the DKIM key file did")
	}
}

// A build that hangs until its context ends (a plugin sleeping in
// sluice_configure, bounded by its init_timeout, or a shutdown) ends the
// reload as "failed" and keeps the running generation; a reload queued
// behind it gives up when its own context ends.
func TestReloadBoundedByContext(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.hcl")
	if err := os.WriteFile(path, []byte(validPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 4)
	var swaps atomic.Int32
	r := NewReloader(path, mustLoad(t, path), ReloaderOptions{
		Build: func(ctx context.Context, _ *policy.Policy) (*bridge.Generation, hcl.Diagnostics) {
			started <- struct{}{}
			<-ctx.Done()
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Plugin failed to load", Detail: ctx.Err().Error()}}
		},
		Swap: func(*bridge.Generation) { swaps.Add(1) },
	})
	os.WriteFile(path, []byte(validPolicy+"# changed\n"), 0o644)

	first, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	results := make(chan Result, 1)
	go func() { results <- r.Reload(first) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first reload did not start building")
	}

	// Queued behind the hanging build: gives up at its own deadline.
	queued, cancelQueued := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelQueued()
	start := time.Now()
	res := r.Reload(queued)
	if d := time.Since(start); d > 200*time.Millisecond+2*time.Second {
		t.Errorf("queued reload returned after %v", d)
	}
	if res.Status != "failed" || !strings.Contains(res.Diagnostics, "another reload was in progress") {
		t.Errorf("queued reload: %+v", res)
	}

	// Shutting down cancels the hanging one.
	start = time.Now()
	cancelFirst()
	select {
	case res := <-results:
		if res.Status != "failed" || res.Generation != 1 {
			t.Errorf("cancelled reload: %+v", res)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancelled reload did not return")
	}
	if swaps.Load() != 0 || r.Generation() != 1 {
		t.Errorf("swaps %d, generation %d after failed reloads", swaps.Load(), r.Generation())
	}
}

// Change detection hashes the files a policy names through the same capped
// reader as the build: a policy naming /dev/zero or a FIFO as a module is
// fingerprinted at once (the build then refuses it) instead of hanging the
// reloader.
func TestFingerprintBoundedReads(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "plugin.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.hcl")
	src := validPolicy + `plugin "zero" {
  wasm = "/dev/zero"
}
plugin "fifo" {
  wasm = "plugin.fifo"
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	p := mustLoad(t, path)
	go func() { _, files := Fingerprint(p); done <- files }()
	select {
	case files := <-done:
		if !slices.Contains(files, "/dev/zero") || !slices.Contains(files, fifo) {
			t.Errorf("Fingerprint files %q lack the modules", files)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fingerprint still reading after 10s")
	}
}
