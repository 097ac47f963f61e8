package contract

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// brokenStore fails every write with err.
type brokenStore struct {
	kv.Store
	err error
}

func (b brokenStore) Set(string, string, []byte, time.Duration) error { return b.err }

// TestKV: limits and the quota are the contract's: a full namespace is a
// result, any other store failure and bad arguments are misuse.
func TestKV(t *testing.T) {
	store := kv.NewMemory(kv.MemoryOptions{SweepInterval: -1})
	defer store.Close()
	store.SetQuota("p", abi.KVEntryOverhead+1+abi.KVMinValueCost)
	c := Begin(&Plugin{Name: "p", KV: store}, nil, abi.ExportConfigure)
	if full, err := c.KVSet([]byte("a"), []byte("1"), 0); full || err != nil {
		t.Fatalf("first key: %v %v", full, err)
	}
	if full, err := c.KVSet([]byte("b"), []byte("1"), 0); !full || err != nil {
		t.Fatalf("past the quota: full %v, err %v", full, err)
	}
	if _, full, err := c.KVIncr([]byte("c"), 1, 0); !full || err != nil {
		t.Fatalf("incr past the quota: full %v, err %v", full, err)
	}
	if v, ok, err := c.KVGet([]byte("a")); !ok || err != nil || string(v) != "1" {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	_, _, err := c.KVGet(make([]byte, abi.KVMaxKey+1))
	misuseOf(t, err, abi.FnKVGet, "key length 257")
	_, err = c.KVSet([]byte("a"), make([]byte, abi.KVMaxValue+1), 0)
	misuseOf(t, err, abi.FnKVSet, "above the limit")
	_, _, err = c.KVIncr([]byte("a"), 1, -1)
	misuseOf(t, err, abi.FnKVIncr, "negative ttl_ms")

	c = Begin(&Plugin{Name: "p", KV: brokenStore{store, errors.New("disk on fire")}}, nil, abi.ExportConfigure)
	// A store that cannot answer is not misuse: the host reports TEMPERROR.
	_, err = c.KVSet([]byte("a"), nil, 0)
	if !Unavailable(err) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("store failure: %v, want it returned as unavailable", err)
	}
	if Unavailable(nil) || Unavailable(misuse("kv_get", "x")) {
		t.Fatal("Unavailable of nil or misuse")
	}
}
