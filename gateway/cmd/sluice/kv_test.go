package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// A policy's kv block makes `serve` load the store from disk at start and
// save it on exit; without the block the store is in memory only.
func TestOpenKVPersists(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.hcl")
	src := `listen { address = "127.0.0.1:0" }
upstream { maildir = "mail" }
kv { path = "state/kv.db" }
`
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	m, err := openKV(policy, log)
	if err != nil || m == nil {
		t.Fatalf("openKV = %v, %v", m, err)
	}
	m.Set("greylist", "k", []byte("v"), 0)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "kv.db")); err != nil {
		t.Fatalf("store not saved next to the policy: %v", err)
	}
	m, err = openKV(policy, log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if v, ok, _ := m.Get("greylist", "k"); !ok || string(v) != "v" {
		t.Errorf("after a restart Get = %q, %v; want the saved value", v, ok)
	}

	// A corrupt file stops the start instead of starting empty over it.
	if err := os.WriteFile(filepath.Join(dir, "state", "kv.db"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openKV(policy, log); err == nil {
		t.Error("openKV accepted a corrupt store file")
	}

	if err := os.WriteFile(policy, []byte(`listen { address = "127.0.0.1:0" }
upstream { maildir = "mail" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := openKV(policy, log); m != nil || err != nil {
		t.Errorf("without a kv block openKV = %v, %v; want an in-memory store (nil)", m, err)
	}
}
