package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/kv"
)

// callTag runs p's hook for ph and returns the tag's value.
func callTag(t *testing.T, p *Plugin, ph filter.Phase, tag string) string {
	t.Helper()
	st := stateAt(t, ph)
	v, err := p.Call(context.Background(), st)
	if err != nil || v != filter.Continue {
		t.Fatalf("%s: Call = %v, %v; want continue", p.Name(), v, err)
	}
	got, _ := st.Tag(tag)
	return got
}

// kvEngine is an engine whose plugins share a new in-memory store; both
// are closed when the test ends.
func kvEngine(t *testing.T) (*Engine, *kv.Memory) {
	t.Helper()
	store := kv.NewMemory(kv.MemoryOptions{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	e, err := NewEngine(context.Background(), EngineOptions{KV: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, store
}

func TestKVGranted(t *testing.T) {
	e, store := kvEngine(t)
	p := load(t, e, Spec{Name: "counter", Wasm: module(t, "kv"), Grants: []string{"kv"}})

	st := stateAt(t, filter.Connect)
	if v, err := p.Call(context.Background(), st); err != nil || v != filter.Continue {
		t.Fatalf("Call = %v, %v; want continue", v, err)
	}
	if got, _ := st.Tag("got"); got != "hello" {
		t.Errorf("tag got = %q, want hello (kv_get after kv_set)", got)
	}
	if n, _ := st.Tag("n"); n != "1" {
		t.Errorf("first kv_incr = %q, want 1", n)
	}
	if n := callTag(t, p, filter.Connect, "n"); n != "2" {
		t.Errorf("second kv_incr = %q, want 2", n)
	}
	if v, ok, _ := store.Get("counter", "ctr"); !ok || string(v) != "2" {
		t.Errorf("store counter/ctr = %q, %v; want 2", v, ok)
	}
	if _, ok, _ := store.Get("counter", "gone"); ok {
		t.Error("kv_delete left the key in the store")
	}
	// Saturation to the i32 range (the hook traps otherwise).
	callTag(t, p, filter.Rcpt, "")
}

func TestKVMisuseTraps(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "counter", Wasm: module(t, "kv"), Grants: []string{"kv"}})
	for ph, want := range map[filter.Phase]string{
		filter.Helo: "key length 0 is outside 1-256 bytes",
		filter.Mail: "negative ttl_ms -1",
	} {
		_, err := p.Call(context.Background(), stateAt(t, ph))
		var ce *CallError
		if !errors.As(err, &ce) || ce.Kind != KindABI || !strings.Contains(ce.Reason, want) {
			t.Errorf("%v: Call error = %v; want ABI misuse %q", ph, err, want)
		}
	}
}

func TestKVNeedsGrant(t *testing.T) {
	e, _ := newEngine(t)
	for _, grants := range [][]string{nil, {"dns"}} {
		_, err := e.Load(context.Background(), Spec{Name: "counter", Wasm: module(t, "kv"), Grants: grants})
		var le *LoadError
		want := `imports sluice.kv_get, which needs the "kv" grant: add grants = ["kv"] to the plugin block`
		if !errors.As(err, &le) || !strings.Contains(le.Msg, want) {
			t.Errorf("grants %q: Load error = %v; want a LoadError containing %q", grants, err, want)
		}
	}
}

func TestKVNamespacesAndReload(t *testing.T) {
	e, _ := newEngine(t) // the engine's own store
	a := load(t, e, Spec{Name: "a", Wasm: module(t, "kv"), Grants: []string{"kv"}})
	b := load(t, e, Spec{Name: "b", Wasm: module(t, "kv"), Grants: []string{"kv"}})
	for _, want := range []string{"1", "2", "3"} {
		if n := callTag(t, a, filter.Connect, "n"); n != want {
			t.Fatalf("a: ctr = %s, want %s", n, want)
		}
	}
	if n := callTag(t, b, filter.Connect, "n"); n != "1" {
		t.Fatalf("b: ctr = %s, want 1 (b must not see a's key)", n)
	}
	// A reload (a new Plugin on the same engine) keeps the data.
	a.Close(context.Background())
	a2 := load(t, e, Spec{Name: "a", Wasm: module(t, "kv"), Grants: []string{"kv"}})
	if n := callTag(t, a2, filter.Connect, "n"); n != "4" {
		t.Fatalf("a after reload: ctr = %s, want 4", n)
	}
}
