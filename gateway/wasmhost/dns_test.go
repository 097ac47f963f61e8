package wasmhost

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/filter"
)

// fakeResolver answers from a map keyed by "qtype name".
type fakeResolver map[string][]string

func (f fakeResolver) Lookup(ctx context.Context, qtype, name string) ([]string, error) {
	if ctx.Err() != nil {
		return nil, dns.ErrTemporary
	}
	if name == "tmp.test" {
		return nil, dns.ErrTemporary
	}
	r, ok := f[qtype+" "+name]
	if !ok {
		return nil, dns.ErrNotFound
	}
	return r, nil
}

// dnsWAT looks up A of a different name per phase: connect a.test, helo
// nx.test, mail tmp.test, rcpt asks type SRV (ABI misuse). The result goes
// to tag "r": the records, or "e" followed by '0'-code for an error code.
const dnsWAT = `(module
  (import "sluice" "dns_lookup" (func $lookup (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sluice" "tag_set" (func $tag_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "A")
  (data (i32.const 8) "SRV")
  (data (i32.const 16) "a.test")
  (data (i32.const 32) "nx.test")
  (data (i32.const 48) "tmp.test")
  (data (i32.const 64) "r")
  (func (export "sluice_abi_version") (result i32) (i32.const 1))
  (func $do (param $qt i32) (param $qtl i32) (param $name i32) (param $nl i32) (result i32)
    (local $n i32)
    (local.set $n (call $lookup (local.get $qt) (local.get $qtl) (local.get $name) (local.get $nl)
      (i32.const 256) (i32.const 256)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then
        (i32.store8 (i32.const 256) (i32.const 101))
        (i32.store8 (i32.const 257) (i32.sub (i32.const 48) (local.get $n)))
        (local.set $n (i32.const 2))))
    (drop (call $tag_set (i32.const 64) (i32.const 1) (i32.const 256) (local.get $n)))
    (i32.const 0))
  (func (export "sluice_on_connect") (result i32)
    (call $do (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 6)))
  (func (export "sluice_on_helo") (result i32)
    (call $do (i32.const 0) (i32.const 1) (i32.const 32) (i32.const 7)))
  (func (export "sluice_on_mail") (result i32)
    (call $do (i32.const 0) (i32.const 1) (i32.const 48) (i32.const 8)))
  (func (export "sluice_on_rcpt") (result i32)
    (call $do (i32.const 8) (i32.const 3) (i32.const 16) (i32.const 6))))`

func TestDNSLookup(t *testing.T) {
	res := fakeResolver{"A a.test": {"127.0.0.2"}}
	e, err := NewEngine(context.Background(), EngineOptions{Resolver: res})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	p := load(t, e, Spec{Name: "bl", Wasm: watModule(t, dnsWAT), Grants: []string{"dns"}})
	for ph, want := range map[filter.Phase]string{
		filter.Connect: "127.0.0.2",
		filter.Helo:    "e1",
		filter.Mail:    "e2",
	} {
		if got := callTag(t, p, ph, "r"); got != want {
			t.Errorf("%v: tag r = %q, want %q", ph, got, want)
		}
	}
	_, err = p.Call(context.Background(), stateAt(t, filter.Rcpt))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != KindABI || !strings.Contains(ce.Reason, `unsupported record type "SRV"`) {
		t.Errorf("rcpt: Call error = %v; want ABI misuse for SRV", err)
	}
}

func TestDNSNeedsGrant(t *testing.T) {
	e, _ := newEngine(t)
	for _, grants := range [][]string{nil, {"kv"}} {
		_, err := e.Load(context.Background(), Spec{Name: "bl", Wasm: watModule(t, dnsWAT), Grants: grants})
		var le *LoadError
		want := `imports sluice.dns_lookup, which needs the "dns" grant: add grants = ["dns"] to the plugin block`
		if !errors.As(err, &le) || !strings.Contains(le.Msg, want) {
			t.Errorf("grants %q: Load error = %v; want a LoadError containing %q", grants, err, want)
		}
	}
}
