package wasmhost

import (
	"context"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// TestStats: Stats counts the idle instances and sums their linear memory,
// which follows memory.grow in a hook; a faulting call's instance leaves the
// pool.
func TestStats(t *testing.T) {
	e, _ := newEngine(t)
	p := load(t, e, Spec{Name: "grower", Wasm: watModule(t, `(module
		(memory (export "memory") 2)
		(func (export "sluice_abi_version") (result i32) (i32.const 1))
		(func (export "sluice_on_mail") (result i32)
			(drop (memory.grow (i32.const 3)))
			(i32.const 0))
		(func (export "sluice_on_rcpt") (result i32) unreachable))`)})
	if got, want := p.Stats(), (Stats{Idle: 1, IdleMemory: 2 * pageSize}); got != want {
		t.Fatalf("after Load: %+v, want %+v", got, want)
	}
	ctx := context.Background()
	if _, err := p.Call(ctx, stateAt(t, filter.Mail)); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Stats(), (Stats{Idle: 1, IdleMemory: 5 * pageSize}); got != want {
		t.Fatalf("after a growing call: %+v, want %+v", got, want)
	}
	if _, err := p.Call(ctx, stateAt(t, filter.Rcpt)); err == nil {
		t.Fatal("unreachable did not fail the call")
	}
	if got := p.Stats(); got != (Stats{}) {
		t.Fatalf("after a fault: %+v, want an empty pool", got)
	}
}
