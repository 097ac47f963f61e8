package wasmhost

import (
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/gateway/wasmhost/instrument"
	"github.com/tetratelabs/wazero/api"
)

// The stack limit of sdk/ABI.md §7. Every module is instrumented at load
// (package instrument) so that a call's frames may take at most
// DefaultStackLimit bytes of the machine stack by the instrument cost model;
// deeper calls trap and fail as a plugin error of kind "stack". The real
// stack wazero allocates for a call is at most twice that (it doubles its
// stack when full).
const (
	DefaultStackLimit = 4 << 20
	// poolStackLimit: an instance whose hook call went deeper than this is
	// closed after the call instead of returning to the pool, so idle
	// instances hold no grown stacks.
	poolStackLimit = 1 << 20
)

// stackLimitReason is the reason of a call that ran out of stack.
var stackLimitReason = fmt.Sprintf("call depth/stack limit exceeded (the plugin's calls may take %s of stack, sdk/ABI.md §7): unbounded recursion?",
	bytesText(DefaultStackLimit))

// instrumentModule adds the stack budget to a module that checkBinary
// accepted, or says why it refuses the module.
func (e *Engine) instrumentModule(wasm []byte) ([]byte, string) {
	if e.uninstrumented {
		return wasm, ""
	}
	res, err := instrument.Rewrite(wasm, DefaultStackLimit)
	if err != nil {
		// Not compiled to ask wazero why: see instrument.ErrCount.
		return nil, "not a valid WebAssembly module: " + err.Error()
	}
	if res.MaxFrame > DefaultStackLimit {
		return nil, fmt.Sprintf("a function of the module needs a stack frame of %s, above the stack limit of %s", bytesText(uint64(res.MaxFrame)), bytesText(DefaultStackLimit))
	}
	return res.Wasm, ""
}

// stackGuard is an instance's view of its stack budget globals; both are
// nil if the module was loaded uninstrumented (tests).
type stackGuard struct {
	budget, low api.Global
}

func newStackGuard(mod api.Module) stackGuard {
	return stackGuard{mod.ExportedGlobal(instrument.BudgetExport), mod.ExportedGlobal(instrument.LowExport)}
}

// exceeded reports whether the last call trapped on the stack limit.
func (g stackGuard) exceeded() bool {
	return g.budget != nil && int32(g.budget.Get()) < 0
}

// startCall resets the low-water mark before a hook call. Each exported
// function wazero hands out runs on a stack of its own, which keeps the
// size it grew to: a hook's stack is what its deepest call made it, and
// the stacks of _initialize and sluice_configure are dropped with them.
func (g stackGuard) startCall() {
	if low, ok := g.low.(api.MutableGlobal); ok {
		low.Set(uint64(uint32(DefaultStackLimit)))
	}
}

// deepest is how much stack the calls since startCall have taken, in bytes
// of the cost model.
func (g stackGuard) deepest() int64 {
	if g.low == nil {
		return 0
	}
	return DefaultStackLimit - int64(int32(g.low.Get()))
}

// stackError turns a trap on the stack limit into a plugin error of kind
// "stack" that says so. Only a trap is looked at: a call stopped at its
// deadline is a timeout, however deep it was.
func (inst *instance) stackError(ce *CallError) {
	trapped := ce.Kind == KindTrap || ce.Kind == "" && strings.HasPrefix(ce.Reason, "trapped: ")
	if trapped && inst.guard.exceeded() {
		ce.Reason, ce.Kind = stackLimitReason, KindStack
	}
}
