package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero/api"
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

	guard     stackGuard
	idleSince time.Time // when it was last put back in the pool
}

// instantiate creates an instance: WASI is sandboxed (no files, environment
// or arguments; real clocks; crypto randomness; output to the log) and
// _initialize runs exactly once (sdk/ABI.md §1, §6).
func (p *Plugin) instantiate(ctx context.Context) (*instance, *CallError) {
	inst := &instance{
		stack:  make([]uint64, 1),
		stdout: newLineWriter(p.log, "stdout"),
		stderr: newLineWriter(p.log, "stderr"),
	}
	inst.cs.p = p
	inst.cs.reset(nil, "instantiate")
	inst.ctx = newCallCtx(&inst.cs)
	inst.stderr.capture = true
	cctx, cancel := context.WithTimeout(ctx, initTimeout)
	defer cancel()
	cctx = context.WithValue(cctx, callKey{}, &inst.cs)

	fail := func(err error) (*instance, *CallError) {
		ce := p.initError(&inst.cs, err, ctx, cctx)
		inst.stackError(ce)
		if lines := inst.stderr.stopCapture(); len(lines) > 0 {
			ce.Reason += "; it wrote to stderr: " + strings.Join(lines, " | ")
		}
		inst.close(ctx)
		return nil, ce
	}
	mod, err := p.rt.InstantiateModule(cctx, p.compiled,
		p.modConf.WithStdout(inst.stdout).WithStderr(inst.stderr))
	if err != nil {
		return fail(err)
	}
	inst.mod = mod
	inst.guard = newStackGuard(mod)
	if p.initFn {
		inst.cs.reset(nil, abi.ExportInitialize)
		if err := mod.ExportedFunction(abi.ExportInitialize).CallWithStack(cctx, nil); err != nil {
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
// sluice_configure) under the start-up deadline. It also returns what the
// plugin logged during the call.
func (p *Plugin) callInit(ctx context.Context, inst *instance, name string) (int32, []string, *CallError) {
	cs := &inst.cs
	cs.reset(nil, name)
	defer cs.reset(nil, "")
	cctx, cancel := context.WithTimeout(ctx, initTimeout)
	defer cancel()
	fn := inst.mod.ExportedFunction(name)
	if err := fn.CallWithStack(context.WithValue(cctx, callKey{}, cs), inst.stack); err != nil {
		ce := p.initError(cs, err, ctx, cctx)
		inst.stackError(ce)
		return 0, cs.logs, ce
	}
	return api.DecodeI32(inst.stack[0]), cs.logs, nil
}

// runConfigure calls sluice_configure, if exported, on a new instance. A
// refusal carries what the plugin logged. On error the instance is closed.
func (p *Plugin) runConfigure(ctx context.Context, inst *instance) *CallError {
	if !p.configure {
		return nil
	}
	r, logs, ce := p.callInit(ctx, inst, abi.ExportConfigure)
	if ce == nil && r != 0 {
		reason := fmt.Sprintf("returned %d: the plugin refused its configuration", r)
		if len(logs) > 0 {
			reason += "; it logged: " + strings.Join(logs, " | ")
		} else {
			reason += " (it logged nothing; check the plugin's config in the policy)"
		}
		ce = &CallError{Plugin: p.name, Func: abi.ExportConfigure, Reason: reason}
	}
	if ce != nil {
		inst.close(ctx)
	}
	return ce
}

func (p *Plugin) initError(cs *callState, err error, ctx, cctx context.Context) *CallError {
	ce := &CallError{Plugin: p.name, Func: cs.hook, Err: err}
	switch {
	case cs.err != nil:
		ce.Func, ce.Reason = cs.err.fn, cs.err.msg
	case ctx.Err() != nil:
		ce.Reason = "cancelled: " + ctx.Err().Error()
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		ce.Reason = fmt.Sprintf("did not return within %v; the plugin was stopped", initTimeout)
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
func (p *Plugin) applyHooksMask(ctx context.Context, inst *instance) *CallError {
	if !p.hooksMask {
		return nil
	}
	mask, _, ce := p.callInit(ctx, inst, abi.ExportHooks)
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
