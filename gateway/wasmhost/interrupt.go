package wasmhost

import (
	"context"
	"crypto/rand"

	"github.com/sluice-mail/sluice/gateway/wasmhost/instrument"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// How a running guest is stopped at its call's deadline (sdk/ABI.md §6).
//
// The load-time instrumentation (package instrument) adds a countdown to
// every plugin module: each function entry and loop header subtracts the
// work the guest may do before the next such site, and about every
// instrument.Fuel instructions the guest calls yieldGuest. That function
// ends the call if its context is done, as a timeout or cancellation like
// every other way a call stops. Being Go code, it is also where the
// goroutine honours a pending preemption request: a goroutine in compiled
// guest code cannot be preempted, but the scheduler's request (the garbage
// collector's stop-the-world, or sysmon after a 10 ms time slice) stays
// set until the goroutine next runs a Go function prologue, which the yield
// does within tens of microseconds. So a guest that computes for a long
// time neither outlives its deadline nor holds off the collector, and the
// yield needs no runtime.Gosched of its own: that woke an idle scheduler
// thread on every yield, for nothing on a lightly loaded gateway
// (RATIONALE.md, "A hook call arms no timer").
//
// wazero's RuntimeConfig.WithCloseOnContextDone did the same by leaving the
// compiled code for Go at every loop header, about 40 ns each time, and Go's
// wasm backend makes every function body a loop, so Go guests paid it on
// every call (RATIONALE.md, "Stopping a guest at its deadline"). It is
// kept only for modules loaded uninstrumented (tests), which have no
// countdown.

// yieldGuest is the countdown's host function: it stops a guest whose
// call's context ended.
func yieldGuest(ctx context.Context, _ api.Module, _ []uint64) {
	stopIfDone(ctx)
}

// instantiateYield adds the countdown's host module to rt. A plugin cannot
// import it: the instrumentation refuses a module that imports from
// instrument.YieldModule, and checkImports allows it only in instrumented
// modules, where the instrumentation put it.
func instantiateYield(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(instrument.YieldModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(yieldGuest), nil, nil).
		Export(instrument.YieldName).Instantiate(ctx)
	return err
}

// runtimeConfig is the runtime configuration of a plugin whose memory may
// grow to pages pages.
func (e *Engine) runtimeConfig(pages uint32) wazero.RuntimeConfig {
	return e.rtConf.WithMemoryLimitPages(pages).WithCloseOnContextDone(e.uninstrumented)
}

// randPiece is how much randomness randReader reads between two looks at
// the deadline: about 4 ms of crypto/rand on the build machine.
const randPiece = 1 << 20

// randReader is an instance's WASI random source (random_get): crypto/rand,
// read in pieces, so that one random_get of a huge buffer (260 ms for
// 64 MiB, seconds at the largest memory limits) also ends at the call's
// deadline.
type randReader struct{ inst *instance }

func (r randReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if r.inst.running != nil {
			stopIfDone(r.inst.running)
		}
		m, err := rand.Read(b[n:min(len(b), n+randPiece)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
