package wasmhost

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/kv"
)

// kvFlood runs kvflood.wat's data hook writing n keys.
func kvFlood(t *testing.T, p *Plugin, n int) (filter.Verdict, error) {
	t.Helper()
	st := stateAt(t, filter.Data)
	st.Tags["n"] = strconv.Itoa(n)
	return p.Call(context.Background(), st)
}

// TestKVFloodCannotEvictOthers performs the attack: a plugin writes more
// keys than the store holds. Another plugin's greylist entry survives, the
// flooding plugin's own keys are what gives way, and with a quota the
// flood gets QUOTA (-4) back instead of a trap (sdk/ABI.md §4.8).
func TestKVFloodCannotEvictOthers(t *testing.T) {
	const maxKeys = 20_000 // the global cap, scaled down from 1,000,000
	store := kv.NewMemory(kv.MemoryOptions{MaxKeys: maxKeys, SweepInterval: -1})
	defer store.Close()
	e, err := NewEngine(context.Background(), EngineOptions{KV: store})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	const triplet = "192.0.2.0/24 alice@example.org bob@example.net"
	store.SetQuota("greylist", DefaultKVQuota)
	if err := store.Set("greylist", triplet, []byte("1765000000"), time.Hour); err != nil {
		t.Fatal(err)
	}

	// With a quota the flood is refused with QUOTA, not a trap, and its
	// namespace stays within the quota.
	const quota = 64 << 10
	small := load(t, e, Spec{Name: "small", Wasm: module(t, "kvflood"), Grants: []string{"kv"}, KVQuota: quota, Timeout: 20 * time.Second})
	if v, err := kvFlood(t, small, maxKeys+50); err != nil || v != filter.Tempfail {
		t.Fatalf("flood past the quota: %v, %v; want the plugin's tempfail after QUOTA", v, err)
	}
	if used, q := store.Usage("small"); q != quota || used > quota || used < quota-kv.EntryOverhead-64 {
		t.Fatalf("namespace small uses %d of %d bytes; want it filled up to the quota", used, q)
	}
	smallUsed, _ := store.Usage("small")

	// The default quota is far above what 20,050 small keys take: the
	// global cap is reached, and the flood evicts its own oldest keys.
	flood := load(t, e, Spec{Name: "flood", Wasm: module(t, "kvflood"), Grants: []string{"kv"}, Timeout: 20 * time.Second})
	if v, err := kvFlood(t, flood, maxKeys+50); err != nil || v != filter.Continue {
		t.Fatalf("flood past the key cap: %v, %v; want continue (own keys evicted)", v, err)
	}
	if _, ok, _ := store.Get("greylist", triplet); !ok {
		t.Fatal("the flood evicted the greylist entry")
	}
	if store.Len() != maxKeys {
		t.Fatalf("store holds %d keys; want the cap %d", store.Len(), maxKeys)
	}
	if used, _ := store.Usage("small"); used != smallUsed {
		t.Fatalf("namespace small went from %d to %d bytes: the flood evicted its keys", smallUsed, used)
	}
}

// TestKVQuotaDuringInitialize: loading a plugin with the "kv" grant sets
// its quota on the store before its first instance runs any code.
func TestKVQuotaDuringInitialize(t *testing.T) {
	e, store := kvEngine(t)
	load(t, e, Spec{Name: "q", Wasm: module(t, "kvflood"), Grants: []string{"kv"}, KVQuota: 1 << 20})
	if _, q := store.Usage("q"); q != 1<<20 {
		t.Fatalf("quota of q = %d; want 1 MiB", q)
	}
	load(t, e, Spec{Name: "d", Wasm: module(t, "kvflood"), Grants: []string{"kv"}})
	if _, q := store.Usage("d"); q != DefaultKVQuota {
		t.Fatalf("quota of d = %d; want the default %d", q, DefaultKVQuota)
	}
}
