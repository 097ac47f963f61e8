package wasmhost

import (
	"context"
	"sort"
	"strings"

	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// hostFunc is one function of the sluice host module (sdk/ABI.md §4).
type hostFunc struct {
	name    string
	params  int // every parameter is an i32
	results int // 0 or 1 i32
	fn      func(cs *callState, s []uint64)
	// grant is the capability a plugin needs to import the function
	// (sdk/ABI.md §4.6, §4.8-4.10), "" for none.
	grant string
}

// notFound is the NOT_FOUND result (sdk/ABI.md §4) as a stack value.
var notFound = api.EncodeI32(abi.ErrNotFound)

// hostFuncs lists every host function of ABI v1; the areas live in
// host_session.go, host_envelope.go, host_message.go, host_kv.go, host_dns.go, host_auth.go and host_scan.go.
func hostFuncs() []hostFunc {
	return []hostFunc{
		{abi.FnLog, 3, 0, hostLog, ""},
		{abi.FnConfig, 2, 1, hostConfig, ""},
		{abi.FnInfo, 4, 1, hostInfo, ""},
		{abi.FnSetReply, 5, 1, hostSetReply, ""},
		{abi.FnTagGet, 4, 1, hostTagGet, ""},
		{abi.FnTagSet, 4, 1, hostTagSet, ""},
		{abi.FnRcptCount, 0, 1, hostRcptCount, ""},
		{abi.FnRcptGet, 3, 1, hostRcptGet, ""},
		{abi.FnMailSet, 2, 1, hostMailSet, abi.GrantEnvelope},
		{abi.FnRcptAdd, 2, 1, hostRcptAdd, abi.GrantEnvelope},
		{abi.FnRcptRemove, 2, 1, hostRcptRemove, abi.GrantEnvelope},
		{abi.FnHeaderCount, 0, 1, hostHeaderCount, ""},
		{abi.FnHeaderName, 3, 1, hostHeaderName, ""},
		{abi.FnHeaderValue, 3, 1, hostHeaderValue, ""},
		{abi.FnHeaderFind, 3, 1, hostHeaderFind, ""},
		{abi.FnHeaderAdd, 4, 1, hostHeaderAdd, ""},
		{abi.FnHeaderInsert, 5, 1, hostHeaderInsert, ""},
		{abi.FnHeaderChange, 3, 1, hostHeaderChange, ""},
		{abi.FnHeaderDelete, 1, 1, hostHeaderDelete, ""},
		{abi.FnBodySize, 0, 1, hostBodySize, ""},
		{abi.FnBodyRead, 3, 1, hostBodyRead, ""},
		{abi.FnBodyReplace, 2, 1, hostBodyReplace, ""},
		{abi.FnBodyAppend, 2, 1, hostBodyAppend, ""},
		{abi.FnKVGet, 4, 1, hostKVGet, abi.GrantKV},
		{abi.FnKVSet, 5, 1, hostKVSet, abi.GrantKV},
		{abi.FnKVIncr, 4, 1, hostKVIncr, abi.GrantKV},
		{abi.FnKVDelete, 2, 1, hostKVDelete, abi.GrantKV},
		{abi.FnDNSLookup, 6, 1, hostDNSLookup, abi.GrantDNS},
		{abi.FnDKIMSign, 6, 1, hostDKIMSign, abi.GrantDKIMPrefix},
		{abi.FnAuthCheck, 3, 1, hostAuthCheck, abi.GrantDNS},
		{abi.FnAuthValue, 4, 1, hostAuthValue, abi.GrantDNS},
		{abi.FnScan, 4, 1, hostScan, abi.GrantScanPrefix},
		{abi.FnScanValue, 4, 1, hostScanValue, abi.GrantScanPrefix},
	}
}

func i32s(n int) []api.ValueType {
	t := make([]api.ValueType, n)
	for i := range t {
		t[i] = api.ValueTypeI32
	}
	return t
}

func (h hostFunc) funcType() funcType { return funcType{i32s(h.params), i32s(h.results)} }

// goFunc adapts h to wazero's stack-based host function API: it finds the
// call state in the context, points it at the caller's memory, and contains
// every panic (sdk/ABI.md §5; docs/TESTPLAN.md row 48).
func (h hostFunc) goFunc() api.GoModuleFunc {
	name, fn := h.name, h.fn
	return func(ctx context.Context, mod api.Module, s []uint64) {
		cs, _ := ctx.Value(callKey{}).(*callState)
		if cs == nil {
			// Only reachable if a guest is called outside Call/Load.
			panic(&abiError{fn: name, msg: "called outside a Sluice call"})
		}
		cs.fn, cs.mem, cs.ctx = name, mod.Memory(), ctx
		defer cs.recoverHost()
		if cs.mem == nil {
			cs.fail("the plugin exports no memory")
		}
		fn(cs, s)
		// A host function that waited (dns_lookup, auth_check) or worked
		// (dkim_sign) up to the call's deadline does not hand the guest
		// more time: the call ends here as a timeout (sdk/ABI.md §5).
		stopIfDone(ctx)
	}
}

// instantiateHost adds the host modules a plugin may import to rt: the
// sluice functions, sandboxed WASI and env.abort (sdk/ABI.md §6).
func (e *Engine) instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, h := range e.host {
		t := h.funcType()
		b.NewFunctionBuilder().WithGoModuleFunction(h.goFunc(), t.params, t.results).Export(h.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return err
	}
	abort := envAbortFunc()
	if _, err := rt.NewHostModuleBuilder(envModule).NewFunctionBuilder().
		WithGoModuleFunction(abort.goFunc(), i32s(abort.params), nil).
		Export(abort.name).Instantiate(ctx); err != nil {
		return err
	}
	_, err := wasi_snapshot_preview1.Instantiate(ctx, rt)
	return err
}

// hostNames lists the sluice host functions, for error messages.
func (e *Engine) hostNames() string {
	names := make([]string, len(e.host))
	for i, h := range e.host {
		names[i] = h.name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
