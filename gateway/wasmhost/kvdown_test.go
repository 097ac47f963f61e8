package wasmhost

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/internal/redistest"
	"github.com/sluice-mail/sluice/gateway/kv"
)

// A shared store that dies: every kv function returns TEMPERROR (-2) to
// the plugin, well within the hook's deadline, and not a trap; when the
// server is back the calls succeed again (sdk/ABI.md §4.8).
func TestKVTemperrorWhenRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	store, err := kv.NewRedis(kv.RedisOptions{URL: srv.URL, Timeout: 200 * time.Millisecond, Probe: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e, err := NewEngine(context.Background(), EngineOptions{KV: store})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	p := load(t, e, Spec{Name: "down", Wasm: module(t, "kvdown"), Grants: []string{"kv"}, Timeout: 2 * time.Second})
	if v, err := p.Call(context.Background(), stateAt(t, filter.Data)); err != nil || v != filter.Continue {
		t.Fatalf("store up: %v, %v; want continue (no TEMPERROR)", v, err)
	}
	srv.Kill()
	start := time.Now()
	if v, err := p.Call(context.Background(), stateAt(t, filter.Data)); err != nil || v != filter.Tempfail {
		t.Fatalf("store down: %v, %v; want tempfail (all four calls TEMPERROR)", v, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the hook took %v with the store down", d)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); store.Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the store did not come back")
		}
	}
	if v, err := p.Call(context.Background(), stateAt(t, filter.Data)); err != nil || v != filter.Continue {
		t.Fatalf("store back: %v, %v; want continue", v, err)
	}
}
