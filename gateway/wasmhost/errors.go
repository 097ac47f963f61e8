package wasmhost

import (
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/gateway/filter"
)

// LoadError is why a plugin could not be loaded. Its message is written for
// the plugin's author (`sluice check` prints it) and says how to fix the
// module where there is a known fix.
type LoadError struct {
	Plugin string // the plugin's name in the policy
	Msg    string // what is wrong and how to fix it
	Err    error  // the underlying error, if any
	// Attr is the plugin block's attribute at fault: AttrConfig when the
	// config is not JSON or the plugin refused it, AttrGrants when the
	// module needs a grant the block does not list, "" for the module.
	Attr string
}

// The plugin block attributes a LoadError can point at.
const (
	AttrConfig = "config"
	AttrGrants = "grants"
)

func (e *LoadError) Error() string { return "plugin " + e.Plugin + ": " + e.Msg }

func (e *LoadError) Unwrap() error { return e.Err }

// CallError is a plugin error raised by one hook call (sdk/ABI.md §5): a
// trap, a timeout, ABI misuse in a host function, an invalid verdict or an
// invalid body. The instance that raised it has been discarded.
type CallError struct {
	Plugin string
	Phase  filter.Phase
	// Func is the host function that detected ABI misuse, or the guest
	// export that was running (sluice_on_data, _initialize, ...).
	Func   string
	Reason string
	// Kind classifies the fault.
	Kind ErrorKind
	// Err is the runtime's error (with the wasm stack trace) for traps.
	Err error
	// refused: sluice_configure returned non-zero; Reason says it all.
	refused bool
}

// ErrorKind classifies a CallError. Its value is the kind label of the
// sluice_plugin_faults_total metric, so the values are part of the
// operator's interface.
type ErrorKind string

// The kinds of CallError.
const (
	KindABI       ErrorKind = "abi"       // misuse in a host function
	KindTimeout   ErrorKind = "timeout"   // the call outlived its deadline
	KindCancelled ErrorKind = "cancelled" // the caller's context ended
	KindTrap      ErrorKind = "trap"      // the guest trapped
	KindVerdict   ErrorKind = "verdict"   // an invalid verdict, or what the hook left behind
	KindInit      ErrorKind = "init"      // a new instance failed to start or refused its configuration
	KindStack     ErrorKind = "stack"     // the call exceeded the stack limit of sdk/ABI.md §7
	KindBreaker   ErrorKind = "breaker"   // the circuit breaker is open: the plugin did not run
	KindClosed    ErrorKind = "closed"    // the plugin was closed (its generation retired)
	KindInternal  ErrorKind = "internal"  // a bug in the host, recovered
)

func (e *CallError) Error() string {
	return "plugin " + e.Plugin + ": " + e.Func + ": " + e.Reason
}

func (e *CallError) Unwrap() error { return e.Err }

// abiError is ABI misuse detected inside a host function. The host function
// records it in the call state and panics with it; wazero turns the panic
// into a call error and Call reports the recorded reason.
type abiError struct {
	fn  string
	msg string
}

func (e *abiError) Error() string { return e.fn + ": " + e.msg }

// firstLine returns the first line of an error message: wazero appends the
// wasm stack trace after a newline.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, " (recovered by wazero)")
}

func pagesText(pages uint64) string {
	return fmt.Sprintf("%d pages (%s)", pages, bytesText(pages*pageSize))
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
