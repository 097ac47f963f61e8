// Package contract is the plugin contract of sdk/ABI.md written once, in
// plain Go: what one plugin call may read and change in one filter.State,
// and what it must return.
//
// A Call holds one hook call (or sluice_configure, with no State). Its
// methods are the ABI's host functions minus the guest memory: Info, the
// tag, reply, envelope, header, body and key/value operations, and Result,
// the check of the verdict and of what the hook left behind. Each validates its
// arguments against the limits of sdk/abi, refuses a call outside its
// phase, and returns a *Misuse naming the host function and what was wrong;
// each change first makes the State save what the call may change, so a
// failed call rolls back (filter.State.Rollback) without any caller
// remembering to.
//
// gateway/wasmhost adapts it to WebAssembly (read guest memory, call the
// contract, trap on a Misuse); sdk/go/sluicetest runs the same Calls on a
// real filter.State for plugins' native tests, so a plugin that passes its
// go test behaves the same in the gateway. The package imports neither
// wazero nor anything else a plugin author's native build would not need.
package contract
