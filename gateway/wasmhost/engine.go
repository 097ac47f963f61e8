// Package wasmhost runs Sluice plugins: WebAssembly modules that speak plugin
// ABI v1 (sdk/ABI.md), on wazero. Each plugin gets its own wazero Runtime, so
// mutually untrusted plugins cannot import each other's exports and each has
// its own memory limit (plugins loaded from the same bytes with the same
// limit share one, with anonymous instances: modcache.go); instances of a
// plugin are pooled, run one call at a time under a deadline, and are thrown
// away after any fault.
package wasmhost

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// EngineOptions configure an Engine.
type EngineOptions struct {
	// CacheDir, if set, keeps compiled machine code on disk so a restart or
	// reload does not compile unchanged modules again. Empty: in memory.
	CacheDir string
	// Logger receives plugin log lines and WASI stdout/stderr; nil discards.
	Logger *slog.Logger
	// KV is the key/value store behind the "kv" grant (sdk/ABI.md §4.8),
	// namespaced by plugin name. Nil: the engine creates an in-process
	// kv.Memory, which lives as long as the engine, so policy reloads that
	// reuse the engine keep the data.
	KV kv.Store
	// Resolver answers the "dns" grant's lookups (sdk/ABI.md §4.9). Nil:
	// a dns.Client on the system's nameservers.
	Resolver dns.Resolver
}

// Engine holds what plugins share: the compilation cache and the logger. It
// is safe for concurrent use; Load may be called from several goroutines.
type Engine struct {
	cache  wazero.CompilationCache
	log    *slog.Logger
	rtConf wazero.RuntimeConfig
	host   []hostFunc          // the sluice host module
	wasi   map[string]funcType // wasi_snapshot_preview1 functions by name
	kv     kv.Store
	ownKV  *kv.Memory // the store the engine created, closed by Close
	dns    dns.Resolver
	// uninstrumented loads modules as they are, without the stack budget
	// of stack.go and the countdown of interrupt.go, and stops them with
	// WithCloseOnContextDone instead (differential tests only).
	uninstrumented bool

	modules moduleCache  // runtimes shared by plugins with the same bytes (modcache.go)
	heap    *heapRelease // gives the heap back when pools shrink (heaprelease.go)
}

// funcType is a function signature.
type funcType struct {
	params, results []api.ValueType
}

// NewEngine creates the compilation cache and learns the WASI functions the
// host provides.
func NewEngine(ctx context.Context, opts EngineOptions) (*Engine, error) {
	e := &Engine{log: opts.Logger, host: hostFuncs(), kv: opts.KV, dns: opts.Resolver, uninstrumented: loadUninstrumented}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.heap = newHeapRelease(e.log)
	if opts.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm compilation cache %s: %w", opts.CacheDir, err)
		}
		e.cache = c
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	// A deadline stops a running guest through the countdown the
	// instrumentation adds (interrupt.go), not WithCloseOnContextDone.
	e.rtConf = wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(e.cache)

	// Learn WASI's signatures once, from a throwaway runtime, to validate
	// imports with precise messages.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := wasi_snapshot_preview1.NewBuilder(rt).Compile(ctx)
	if err != nil {
		e.cache.Close(ctx)
		return nil, fmt.Errorf("wasi host module: %w", err)
	}
	e.wasi = make(map[string]funcType)
	for name, def := range cm.ExportedFunctions() {
		e.wasi[name] = funcType{def.ParamTypes(), def.ResultTypes()}
	}
	if e.kv == nil {
		e.ownKV = kv.NewMemory(kv.MemoryOptions{})
		e.kv = e.ownKV
	}
	if e.dns == nil {
		e.dns = dns.NewClient(dns.ClientOptions{})
	}
	return e, nil
}

// Close releases the compilation cache. Close plugins first.
func (e *Engine) Close(ctx context.Context) error {
	e.heap.stop()
	if e.ownKV != nil {
		e.ownKV.Close()
	}
	return e.cache.Close(ctx)
}
