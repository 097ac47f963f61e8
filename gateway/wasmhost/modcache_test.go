package wasmhost

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// counterWAT returns 0 (continue) on its first on_connect, 1 (accept) on
// its second: the verdict shows which instance ran.
const counterWAT = `(module
	(memory (export "memory") 1)
	(global $n (mut i32) (i32.const 0))
	(func (export "sluice_abi_version") (result i32) (i32.const 1))
	(func (export "sluice_on_connect") (result i32)
		(global.set $n (i32.add (global.get $n) (i32.const 1)))
		(i32.sub (global.get $n) (i32.const 1))))`

// bigModuleSize is the passive data segment of bigModule: wazero's decoded
// module keeps a copy of it, an instance does not (nothing copies it into
// linear memory), so it stands for what decoding a plugin costs.
const bigModuleSize = 2 << 20

func bigModule(t testing.TB) []byte {
	return watModule(t, `(module
	(memory (export "memory") 1)
	(data "`+strings.Repeat("a", bigModuleSize)+`")
	(func (export "sluice_abi_version") (result i32) (i32.const 1))
	(func (export "sluice_on_connect") (result i32) (i32.const 0)))`)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestReloadSharesCompiledModule: plugins loaded again from the same bytes
// (a fresh copy each time, as a reload reads the file again) share one
// runtime and compiled module, so neither a reload nor a generation kept
// alive by its sessions decodes the module again: 20 live generations cost
// far less than one decoded module each, and 20 reloads that close the old
// generation leave the heap where it was.
func TestReloadSharesCompiledModule(t *testing.T) {
	e, _ := newEngine(t)
	wasm := bigModule(t)
	ctx := context.Background()
	loadGen := func() *Plugin {
		p, err := e.Load(ctx, Spec{Name: "big", Wasm: bytes.Clone(wasm)})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := p.Call(ctx, stateAt(t, filter.Connect)); err != nil || v != filter.Continue {
			t.Fatalf("call: %v %v", v, err)
		}
		return p
	}

	// 20 generations alive at once.
	gens := []*Plugin{loadGen()}
	h1 := heapAfterGC()
	for i := 1; i < 20; i++ {
		gens = append(gens, loadGen())
	}
	h20 := heapAfterGC()
	perGen := (int64(h20) - int64(h1)) / 19
	t.Logf("heap: 1 generation %d KiB, 20 live generations %d KiB: %d KiB per extra generation (module data %d KiB)",
		h1>>10, h20>>10, perGen>>10, bigModuleSize>>10)
	for _, p := range gens[1:] {
		if p.compiled != gens[0].compiled || p.rt != gens[0].rt {
			t.Fatalf("generations loaded from the same bytes do not share the compiled module")
		}
	}
	if perGen > bigModuleSize/4 {
		t.Errorf("each live generation adds %d KiB of heap; want well under the module's %d KiB (no new decode)", perGen>>10, bigModuleSize>>10)
	}

	// 20 reloads, each closing the generation before it.
	for _, p := range gens[1:] {
		p.Close(ctx)
	}
	cur := gens[0]
	h0 := heapAfterGC()
	for i := 0; i < 20; i++ {
		next := loadGen()
		cur.Close(ctx)
		cur = next
	}
	hN := heapAfterGC()
	t.Logf("heap: before 20 reloads %d KiB, after %d KiB", h0>>10, hN>>10)
	if int64(hN)-int64(h0) > bigModuleSize/2 {
		t.Errorf("20 reloads grew the heap by %d KiB", (int64(hN)-int64(h0))>>10)
	}
	if n := e.sharedModules(); n != 1 {
		t.Errorf("%d shared runtimes for one module, want 1", n)
	}
	cur.Close(ctx)
	if n := e.sharedModules(); n != 0 {
		t.Errorf("%d shared runtimes left after every plugin closed, want 0", n)
	}
}

// TestSharedModuleKeepsPluginsApart: two plugin blocks with the same bytes
// share the compiled module but never an instance, each keeps its own state
// and pool, closing one leaves the other working, and a different memory
// limit gets its own runtime (limits are per runtime).
func TestSharedModuleKeepsPluginsApart(t *testing.T) {
	e, _ := newEngine(t)
	wasm := watModule(t, counterWAT)
	a := load(t, e, Spec{Name: "a", Wasm: wasm})
	b := load(t, e, Spec{Name: "b", Wasm: bytes.Clone(wasm)})
	c := load(t, e, Spec{Name: "c", Wasm: wasm, MemoryLimit: 2 * pageSize})
	if a.compiled != b.compiled {
		t.Errorf("same bytes and limit: compiled modules differ")
	}
	if c.rt == a.rt || c.compiled == a.compiled {
		t.Errorf("a different memory limit shares the runtime")
	}
	ctx := context.Background()
	call := func(p *Plugin) filter.Verdict {
		t.Helper()
		v, err := p.Call(ctx, stateAt(t, filter.Connect))
		if err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		return v
	}
	// Load ran the first instance's init only; the first hook call is 0.
	if v := call(a); v != filter.Continue {
		t.Fatalf("a first call: %v", v)
	}
	if v := call(a); v != filter.Accept {
		t.Fatalf("a second call: %v, want accept (its own instance, counter 1)", v)
	}
	if v := call(b); v != filter.Continue {
		t.Fatalf("b first call: %v, want continue: b ran a's instance", v)
	}
	a.Close(ctx)
	if _, err := a.Call(ctx, stateAt(t, filter.Connect)); err == nil {
		t.Errorf("a call after Close succeeded")
	}
	if v := call(b); v != filter.Accept {
		t.Errorf("b after a closed: %v, want accept", v)
	}
	if n := e.sharedModules(); n != 2 {
		t.Errorf("%d shared runtimes, want 2 (b's, c's)", n)
	}
	b.Close(ctx)
	c.Close(ctx)
	if n := e.sharedModules(); n != 0 {
		t.Errorf("%d shared runtimes after all closed, want 0", n)
	}
}

// TestSharedModuleFailedLoad: a load refused after compiling (here: the
// module lacks a grant) gives its share back, and an invalid module is not
// remembered.
func TestSharedModuleFailedLoad(t *testing.T) {
	e, _ := newEngine(t)
	kvWasm := module(t, "kv")
	if _, err := e.Load(context.Background(), Spec{Name: "nogrant", Wasm: kvWasm}); err == nil {
		t.Fatal("kv module loaded without the kv grant")
	}
	if _, err := e.Load(context.Background(), Spec{Name: "bad", Wasm: []byte("\x00asm\x01\x00\x00\x00\x01")}); err == nil {
		t.Fatal("truncated module loaded")
	}
	if n := e.sharedModules(); n != 0 {
		t.Errorf("%d shared runtimes after failed loads, want 0", n)
	}
}
