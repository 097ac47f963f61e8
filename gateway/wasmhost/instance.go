package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instance is one instantiation of a plugin. It runs one call at a time:
// an api.Module is not safe for concurrent use.
type instance struct {
	mod    api.Module
	hook   [len(filter.Phases)]api.Function // looked up once
	stack  []uint64                         // CallWithStack's param/result stack
	cs     callState
	ctx    *callCtx // reused by every hook call
	stdout *lineWriter
	stderr *lineWriter
	// running is the context of the guest call in progress (a hook call's
	// callCtx, or the start-up deadline); WASI sleeps end with it.
	running context.Context

	guard     stackGuard
	idleSince time.Time // when it was last put back in the pool
}

// startCtx is the deadline under which an instance starts (instantiation,
// _initialize, sluice_configure, sluice_hooks): the plugin's init_timeout
// at load, the hook call's own deadline for an instance a call creates.
type startCtx struct {
	context.Context                 // carries the deadline
	parent          context.Context // the caller's: its end is a cancellation
	limit           time.Duration   // how long was allowed, for messages
	what            string          // names the limit in messages
}

// newStartCtx bounds start-up under parent by limit; call cancel when done.
func newStartCtx(parent context.Context, limit time.Duration, what string) (startCtx, context.CancelFunc) {
	return newStartCtxDeadline(parent, time.Now().Add(limit), limit, what)
}

func newStartCtxDeadline(parent context.Context, deadline time.Time, limit time.Duration, what string) (startCtx, context.CancelFunc) {
	ctx, cancel := context.WithDeadline(parent, deadline)
	return startCtx{Context: ctx, parent: parent, limit: limit, what: what}, cancel
}

// sleep is the instance's WASI clock (what poll_oneoff with a clock
// subscription does: Go's time.Sleep, C's nanosleep and usleep). It never
// sleeps past the end of the running call: when the call's deadline passes
// or its caller cancels, it stops the guest there, and the call fails as a
// timeout or cancellation (sdk/ABI.md §6).
func (inst *instance) sleep(ns int64) {
	ctx := inst.running
	if ctx == nil {
		return // not inside a call: nothing to wait for
	}
	if ns <= 0 {
		stopIfDone(ctx)
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		panic(stopError(ctx))
	}
}

// yield is WASI's sched_yield: it lets other goroutines run, and stops a
// guest whose call has ended.
func (inst *instance) yield() {
	if inst.running != nil {
		stopIfDone(inst.running)
	}
	runtime.Gosched()
}

// stopIfDone stops the guest if ctx ended: host code that may have waited
// or worked long calls it before returning to the guest, so a guest never
// runs on past its call's deadline.
func stopIfDone(ctx context.Context) {
	if ctx.Err() != nil {
		panic(stopError(ctx))
	}
}

// stopError is what stops a guest whose call's context ended: wazero's exit
// error with the code its own deadline handling uses. A panic with it
// passes unwrapped through wazero and the host functions' recovery; the
// caller tells a timeout from a cancellation by its context.
func stopError(ctx context.Context) *sys.ExitError {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sys.NewExitError(sys.ExitCodeDeadlineExceeded)
	}
	return sys.NewExitError(sys.ExitCodeContextCanceled)
}

// instantiate creates an instance under sc: WASI is sandboxed (no files,
// environment or arguments; real clocks, whose sleeps end with the call;
// crypto randomness; output to the log) and _initialize runs exactly once
// (sdk/ABI.md §1, §6).
func (p *Plugin) instantiate(sc startCtx) (*instance, *CallError) {
	inst := &instance{
		stack:  make([]uint64, 1),
		stdout: newLineWriter(p.log, p.logs, "stdout"),
		stderr: newLineWriter(p.log, p.logs, "stderr"),
	}
	inst.cs.p = p
	inst.cs.reset(nil, "instantiate")
	inst.ctx = newCallCtx(&inst.cs)
	inst.stderr.capture = true
	inst.running = sc
	defer func() { inst.running = nil }()
	cctx := context.WithValue(sc, callKey{}, &inst.cs)

	fail := func(err error) (*instance, *CallError) {
		ce := p.initError(&inst.cs, err, sc)
		inst.stackError(ce)
		if lines := inst.stderr.stopCapture(); len(lines) > 0 {
			ce.Reason += "; it wrote to stderr: " + strings.Join(lines, " | ")
		}
		inst.close(sc.parent)
		return nil, ce
	}
	mctx, mem := withLinearMemory(cctx)
	mod, err := p.rt.InstantiateModule(mctx, p.compiled,
		p.modConf.WithStdout(inst.stdout).WithStderr(inst.stderr).
			WithNanosleep(inst.sleep).WithOsyield(inst.yield).WithRandSource(randReader{inst}))
	mem.done(mod)
	if err != nil {
		return fail(err)
	}
	inst.mod = mod
	inst.guard = newStackGuard(mod)
	if p.initFn {
		inst.cs.reset(nil, abi.ExportInitialize)
		err := mod.ExportedFunction(abi.ExportInitialize).CallWithStack(cctx, nil)
		if err == nil && sc.Err() != nil {
			err = sc.Err() // returned after its deadline
		}
		if err != nil {
			return fail(err)
		}
	}
	inst.stderr.stopCapture()
	for ph, name := range p.hooks {
		if name != "" {
			inst.hook[ph] = mod.ExportedFunction(name)
		}
	}
	inst.cs.reset(nil, "")
	return inst, nil
}

// callInit calls a () -> i32 export outside any phase (sluice_abi_version,
// sluice_configure) under the start-up deadline sc. It also returns what
// the plugin logged during the call.
func (p *Plugin) callInit(sc startCtx, inst *instance, name string) (int32, []string, *CallError) {
	cs := &inst.cs
	cs.reset(nil, name)
	defer cs.reset(nil, "")
	inst.running = sc
	defer func() { inst.running = nil }()
	fn := inst.mod.ExportedFunction(name)
	err := fn.CallWithStack(context.WithValue(sc, callKey{}, cs), inst.stack)
	if err == nil && sc.Err() != nil {
		err = sc.Err() // returned after its deadline
	}
	if err != nil {
		ce := p.initError(cs, err, sc)
		inst.stackError(ce)
		return 0, cs.logs, ce
	}
	return api.DecodeI32(inst.stack[0]), cs.logs, nil
}

// runConfigure calls sluice_configure, if exported, on a new instance. A
// refusal carries what the plugin logged. On error the instance is closed.
func (p *Plugin) runConfigure(sc startCtx, inst *instance) *CallError {
	if !p.configure {
		return nil
	}
	r, logs, ce := p.callInit(sc, inst, abi.ExportConfigure)
	if ce == nil && r != 0 {
		// One sentence, with what the plugin logged as the reason.
		reason := "refused its configuration: " + strings.Join(logs, "; ")
		if len(logs) == 0 {
			reason = fmt.Sprintf("refused its configuration (%s returned %d and logged nothing; check the plugin's config in the policy)",
				abi.ExportConfigure, r)
		}
		ce = &CallError{Plugin: p.name, Func: abi.ExportConfigure, Reason: reason, refused: true}
	}
	if ce != nil {
		inst.close(sc.parent)
	}
	return ce
}

// initError describes a failed start-up call; its Kind is "timeout" or
// "cancelled" when sc ended, else empty (the caller decides).
func (p *Plugin) initError(cs *callState, err error, sc startCtx) *CallError {
	ce := &CallError{Plugin: p.name, Func: cs.hook, Err: err}
	switch {
	case cs.err != nil:
		ce.Func, ce.Reason = cs.err.fn, cs.err.msg
	case sc.parent.Err() != nil:
		ce.Reason, ce.Kind = "cancelled: "+sc.parent.Err().Error(), KindCancelled
	case errors.Is(sc.Err(), context.DeadlineExceeded):
		ce.Reason, ce.Kind = fmt.Sprintf("did not return within %v (%s); the plugin was stopped", sc.limit, sc.what), KindTimeout
	default:
		ce.Reason = "trapped: " + firstLine(err)
	}
	return ce
}

// close discards the instance and flushes its output.
func (inst *instance) close(ctx context.Context) {
	inst.ctx.timer.Stop()
	if inst.mod != nil {
		_ = inst.mod.Close(ctx)
	}
	inst.stdout.Flush()
	inst.stderr.Flush()
}

// applyHooksMask calls sluice_hooks, if exported, once at load and forgets
// every exported hook whose bit is clear, so the host never calls it
// (sdk/ABI.md §2). Languages that cannot export conditionally (Go) use it.
func (p *Plugin) applyHooksMask(sc startCtx, inst *instance) *CallError {
	if !p.hooksMask {
		return nil
	}
	mask, _, ce := p.callInit(sc, inst, abi.ExportHooks)
	if ce != nil {
		return ce
	}
	for ph := range p.hooks {
		if mask&(1<<ph) == 0 {
			p.hooks[ph] = ""
			inst.hook[ph] = nil
		}
	}
	return nil
}
