package wasmhost

import (
	"context"
	"fmt"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/msgauth"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// callKey is the context key under which a call's *callState travels to the
// host functions.
type callKey struct{}

// callState is what host functions need during one guest call. Each
// instance owns one and reuses it; an instance runs one call at a time.
type callState struct {
	p    *Plugin
	st   *filter.State // nil during _initialize and sluice_configure
	hook string        // the guest export being called

	mem api.Memory      // the calling instance's memory, set on each host call
	ctx context.Context // the call's context (and deadline), set on each host call
	fn  string          // the host function running, for error messages

	err *abiError // ABI misuse recorded by a host function

	c contract.Call // the plugin contract over st (gateway/contract)

	logs []string // what the plugin logged, kept during sluice_configure only

	auth     map[int32]authMemo // auth_check results of this call, by checks
	authLast *msgauth.Result    // the last one, for auth_value

	scans    map[string]scanMemo // scan results of this call, by scanner
	scanLast *scan.Result        // the last one, for scan_value
	scanErr  string              // why the last scan failed, for scan_value "error"
}

// reset prepares cs for a call of hook on st.
func (cs *callState) reset(st *filter.State, hook string) {
	*cs = callState{p: cs.p, st: st, hook: hook}
	cs.c.Reset(&cs.p.contract, st, hook)
}

// check traps on a contract misuse (gateway/contract): the host function
// and what was wrong become the plugin error.
func (cs *callState) check(err error) {
	if err == nil {
		return
	}
	fn, msg := cs.fn, err.Error()
	if m, ok := err.(*contract.Misuse); ok {
		fn, msg = m.Func, m.Reason
	}
	e := &abiError{fn: fn, msg: msg}
	if cs.err == nil {
		cs.err = e
	}
	panic(e)
}

// found is the result of a lookup: NOT_FOUND when ok is false.
func found(ok bool, v uint64) uint64 {
	if !ok {
		return notFound
	}
	return v
}

// done is the result of a change: 0; it traps on a contract misuse.
func (cs *callState) done(err error) uint64 {
	cs.check(err)
	return 0
}

// status is the result of a change that may find nothing: 0 or NOT_FOUND;
// it traps on a contract misuse.
func (cs *callState) status(ok bool, err error) uint64 {
	cs.check(err)
	return found(ok, 0)
}

// outOr writes v with the (buf, cap) protocol, or returns NOT_FOUND.
func (cs *callState) outOr(buf, capv uint64, v string, ok bool) uint64 {
	if !ok {
		return notFound
	}
	return cs.out(buf, capv, v)
}

// count is the result of a count: n, or NOT_FOUND when ok is false.
func count(n int, ok bool) uint64 { return found(ok, api.EncodeI32(int32(n))) }

// fail records ABI misuse and aborts the host function; the guest call then
// fails and Call reports the reason (sdk/ABI.md §4: misuse traps).
func (cs *callState) fail(format string, args ...any) {
	e := &abiError{fn: cs.fn, msg: fmt.Sprintf(format, args...)}
	if cs.err == nil {
		cs.err = e
	}
	panic(e)
}

// recoverHost runs deferred in every host function: it turns any panic,
// including a bug in the host function, into recorded ABI misuse before
// wazero turns it into a call error. The gateway never crashes on it.
func (cs *callState) recoverHost() {
	r := recover()
	if r == nil {
		return
	}
	switch e := r.(type) {
	case *abiError:
		panic(e)
	case *sys.ExitError: // stopIfDone: the call's deadline passed
		panic(e)
	}
	e := &abiError{fn: cs.fn, msg: fmt.Sprintf("internal error in host function: %v", r)}
	if cs.err == nil {
		cs.err = e
	}
	cs.p.log.Error("host function panicked", "func", cs.fn, "panic", fmt.Sprint(r))
	panic(e)
}

// length decodes a length or capacity argument: a non-negative i32.
func (cs *callState) length(v uint64, what string) int {
	n := api.DecodeI32(v)
	if n < 0 {
		cs.fail("negative %s %d", what, n)
	}
	return int(n)
}

// read returns guest bytes [ptr, ptr+n). The slice aliases guest memory:
// copy what you keep before returning to the guest.
func (cs *callState) read(ptr, n uint64, what string) []byte {
	l := cs.length(n, what+" length")
	b, ok := cs.mem.Read(api.DecodeU32(ptr), uint32(l))
	if !ok {
		cs.fail("%s (ptr %d, len %d) is outside the plugin's memory (%d bytes)",
			what, api.DecodeU32(ptr), l, cs.mem.Size())
	}
	return b
}

// out implements the (buf, cap) protocol of sdk/ABI.md §3: it returns the
// full length of s and copies s only when it fits.
func (cs *callState) out(buf, capv uint64, s string) uint64 {
	c := cs.length(capv, "buffer capacity")
	if len(s) <= c && !cs.mem.WriteString(api.DecodeU32(buf), s) {
		cs.fail("buffer (ptr %d, cap %d) is outside the plugin's memory (%d bytes)",
			api.DecodeU32(buf), c, cs.mem.Size())
	}
	return api.EncodeI32(int32(len(s)))
}

// outBytes is out for a byte slice.
func (cs *callState) outBytes(buf, capv uint64, b []byte) uint64 {
	c := cs.length(capv, "buffer capacity")
	if len(b) <= c && !cs.mem.Write(api.DecodeU32(buf), b) {
		cs.fail("buffer (ptr %d, cap %d) is outside the plugin's memory (%d bytes)",
			api.DecodeU32(buf), c, cs.mem.Size())
	}
	return api.EncodeI32(int32(len(b)))
}

// phase returns the phase of the call; ok is false during _initialize and
// sluice_configure, when there is no transaction.
func (cs *callState) phase() (filter.Phase, bool) {
	if cs.st == nil {
		return 0, false
	}
	return cs.st.Phase, true
}
