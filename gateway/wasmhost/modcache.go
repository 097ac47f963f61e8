package wasmhost

import (
	"context"
	"crypto/sha256"
	"sync"

	"github.com/tetratelabs/wazero"
)

// moduleCache shares a wazero runtime and the module compiled in it among the
// plugins loaded from the same bytes with the same memory limit: a policy
// reload that keeps a plugin's .wasm does not decode it again (wazero's
// decoded module holds a copy of every data segment and function body), and
// the old and new generations hold one compiled module between them, not
// one each. A reload that changes one plugin compiles one plugin.
//
// Sharing a runtime keeps what a runtime per plugin was for (RATIONALE.md
// "One wazero runtime per plugin", "Plugins with the same bytes share one
// runtime"): the memory limit is part of the key, every instance is
// anonymous so no module can import from another, and each Plugin keeps its
// own pool of instances, config, grants and breaker. The runtime holds only
// the compiled module and the host modules, which do not depend on the
// plugin.
type moduleCache struct {
	mu sync.Mutex
	m  map[moduleKey]*sharedModule
}

// moduleKey is what a compiled module depends on: the module's bytes as
// loaded (the instrumentation that rewrites them is the same for every
// plugin of an engine) and the runtime's memory limit (the engine's other
// runtime settings are the same for every plugin).
type moduleKey struct {
	sum   [sha256.Size]byte
	pages uint32
}

// sharedModule is one runtime with its compiled module and host modules.
type sharedModule struct {
	key   moduleKey
	ready chan struct{} // closed once rt and cm, or err, are set
	rt    wazero.Runtime
	cm    wazero.CompiledModule
	err   error // compiling or setting up the host modules failed
	refs  int   // plugins holding it; guarded by moduleCache.mu
}

// instrumentError is a module the instrumentation refuses (stack.go), with
// Load's whole message.
type instrumentError struct{ msg string }

func (e *instrumentError) Error() string { return e.msg }

// hostSetupError is a failure to instantiate the host modules, told apart
// from an invalid module in Load's message.
type hostSetupError struct{ err error }

func (e *hostSetupError) Error() string { return e.err.Error() }
func (e *hostSetupError) Unwrap() error { return e.err }

// acquireModule returns the shared runtime and compiled module for wasm
// under a limit of pages, compiling it if no live plugin holds it. Loads of
// the same bytes at the same time compile once. Every successful call is
// paired with one releaseModule. A failure is not kept: the next load
// tries again.
func (e *Engine) acquireModule(ctx context.Context, wasm []byte, pages uint32) (*sharedModule, error) {
	key := moduleKey{sum: sha256.Sum256(wasm), pages: pages}
	ms := &e.modules
	ms.mu.Lock()
	if sm, ok := ms.m[key]; ok {
		sm.refs++
		ms.mu.Unlock()
		select {
		case <-sm.ready:
		case <-ctx.Done():
			e.releaseModule(context.Background(), sm)
			return nil, ctx.Err()
		}
		if sm.err != nil {
			e.releaseModule(context.Background(), sm)
			return nil, sm.err
		}
		return sm, nil
	}
	sm := &sharedModule{key: key, ready: make(chan struct{}), refs: 1}
	if ms.m == nil {
		ms.m = make(map[moduleKey]*sharedModule)
	}
	ms.m[key] = sm
	ms.mu.Unlock()

	sm.rt, sm.cm, sm.err = e.compileShared(ctx, wasm, pages)
	if sm.err != nil {
		ms.mu.Lock()
		if ms.m[key] == sm {
			delete(ms.m, key) // a later load compiles again
		}
		ms.mu.Unlock()
	}
	close(sm.ready)
	if sm.err != nil {
		e.releaseModule(ctx, sm)
		return nil, sm.err
	}
	return sm, nil
}

// compileShared instruments wasm (stack.go), creates the runtime, compiles
// the result in it and instantiates the host modules.
func (e *Engine) compileShared(ctx context.Context, wasm []byte, pages uint32) (wazero.Runtime, wazero.CompiledModule, error) {
	wasm, msg := e.instrumentModule(wasm)
	if msg != "" {
		return nil, nil, &instrumentError{msg}
	}
	rt := wazero.NewRuntimeWithConfig(ctx, e.runtimeConfig(pages))
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		rt.Close(ctx)
		return nil, nil, err
	}
	if err := e.instantiateHost(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, nil, &hostSetupError{err}
	}
	if err := instantiateYield(ctx, rt); err != nil { // interrupt.go
		rt.Close(ctx)
		return nil, nil, &hostSetupError{err}
	}
	return rt, cm, nil
}

// releaseModule drops one reference; the last closes the runtime.
func (e *Engine) releaseModule(ctx context.Context, sm *sharedModule) error {
	ms := &e.modules
	ms.mu.Lock()
	sm.refs--
	last := sm.refs == 0
	if last && ms.m[sm.key] == sm {
		delete(ms.m, sm.key)
	}
	ms.mu.Unlock()
	if last && sm.rt != nil {
		return sm.rt.Close(ctx)
	}
	return nil
}

// sharedModules is how many runtimes the engine holds (tests).
func (e *Engine) sharedModules() int {
	e.modules.mu.Lock()
	defer e.modules.mu.Unlock()
	return len(e.modules.m)
}
