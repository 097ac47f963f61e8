package wasmhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/wasmhost/instrument"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Load compiles, validates and instantiates a plugin, checks its ABI
// version and runs sluice_configure in its first instance, which stays in
// the pool. Every refusal is a *LoadError whose message tells the plugin's
// author what to fix.
func (e *Engine) Load(ctx context.Context, s Spec) (*Plugin, error) {
	fail := func(err error, format string, args ...any) (*Plugin, error) {
		return nil, &LoadError{Plugin: s.Name, Msg: fmt.Sprintf(format, args...), Err: err}
	}
	wasm := s.Wasm
	if wasm == nil {
		return fail(nil, "no module given")
	}
	if len(wasm) > MaxModuleSize {
		return fail(nil, "the module is %d bytes, above the limit of %d MiB", len(wasm), MaxModuleSize>>20)
	}
	p := &Plugin{
		name:     s.Name,
		log:      e.log.With("plugin", s.Name),
		config:   s.Config,
		timeout:  s.Timeout,
		maxMsg:   int(min(s.MaxMessageSize, math.MaxInt32)),
		maxIdle:  s.MaxIdle,
		kv:       e.kv,
		dns:      e.dns,
		scanners: s.Scanners,
		now:      time.Now,
		heap:     e.heap,

		idleTimeout: idleTimeout,
	}
	p.logs = newLogLimiter(p.log, s.Name)
	if s.Resolver != nil {
		p.dns = s.Resolver
	}
	for _, k := range s.DKIMKeys {
		if p.dkim == nil {
			p.dkim = map[string]*dkimsign.Key{}
		}
		p.dkim[k.Name] = k
	}
	if p.config == nil {
		p.config = []byte("{}")
	} else if !json.Valid(p.config) {
		return nil, &LoadError{Plugin: s.Name, Attr: AttrConfig, Msg: "its config is not valid JSON"}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.maxMsg <= 0 {
		p.maxMsg = DefaultMaxMessageSize
	}
	if p.maxIdle <= 0 {
		p.maxIdle = DefaultMaxIdle
	}
	p.contract = contract.Plugin{Name: p.name, DKIMKeys: p.dkimKeyList(), MaxMessageSize: p.maxMsg, KV: p.kv}
	limit := s.MemoryLimit
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	pages := (limit + pageSize - 1) / pageSize
	if pages > 65536 {
		return fail(nil, "memory limit %s is above the 4 GiB a 32-bit WebAssembly memory can address", bytesText(limit))
	}
	if msg := checkBinary(wasm, pages); msg != "" {
		return fail(nil, "%s", msg)
	}

	// The runtime and compiled module are shared with the plugins loaded
	// from the same bytes and limit, of this generation or another
	// (modcache.go); a module is instrumented (stack.go) only when it is
	// compiled, not again on every reload that keeps it.
	sm, err := e.acquireModule(ctx, wasm, uint32(pages))
	if err != nil {
		var he *hostSetupError
		var ie *instrumentError
		switch {
		case errors.As(err, &he):
			return fail(he.err, "cannot set up host modules: %v", he.err)
		case errors.As(err, &ie):
			return fail(nil, "%s", ie.msg)
		}
		return fail(err, "not a valid WebAssembly module: %v", err)
	}
	p.shared, p.rt, p.compiled = sm, sm.rt, sm.cm
	p.release = e.releaseModule
	ok := false
	defer func() {
		if !ok {
			e.releaseModule(ctx, sm)
		}
	}()
	if msg := e.checkModule(p.compiled, wasm, p); msg != "" {
		return fail(nil, "%s", msg)
	}
	if msg := e.checkGrants(p.compiled, s.Grants); msg != "" {
		return nil, &LoadError{Plugin: s.Name, Attr: AttrGrants, Msg: msg}
	}
	// Sleeping is per instance (instance.sleep), bound to the running call.
	p.modConf = wazero.NewModuleConfig().
		WithName("").         // anonymous: nothing can import from an instance
		WithStartFunctions(). // _initialize is called by instantiate
		WithSysWalltime().WithSysNanotime().
		WithRandSource(rand.Reader)

	// The quota holds from _initialize on, which may write already.
	if p.kv != nil && slices.Contains(s.Grants, abi.GrantKV) {
		quota := s.KVQuota
		if quota <= 0 {
			quota = DefaultKVQuota
		}
		p.kv.SetQuota(s.Name, quota)
	}
	// One deadline for the whole start-up of the first instance, so a
	// module that sleeps or loops in _initialize or sluice_configure
	// cannot hold a check, a start or a reload for longer than this.
	initTO := s.InitTimeout
	if initTO <= 0 {
		initTO = DefaultInitTimeout
	}
	sc, cancel := newStartCtx(ctx, initTO, "the plugin's init_timeout")
	defer cancel()
	inst, ce := p.instantiate(sc)
	if ce != nil {
		return fail(ce, "%s: %s", ce.Func, ce.Reason)
	}
	v, _, ce := p.callInit(sc, inst, abi.ExportABIVersion)
	if ce == nil && v != abi.Version {
		inst.close(ctx)
		return fail(nil, "plugin speaks ABI v%d; this Sluice speaks ABI v%d: rebuild the plugin with an SDK for ABI v%d",
			v, abi.Version, abi.Version)
	}
	if ce == nil {
		ce = p.runConfigure(sc, inst)
	}
	if ce == nil {
		ce = p.applyHooksMask(sc, inst)
	}
	if ce != nil {
		inst.close(ctx)
		if ce.refused {
			return nil, &LoadError{Plugin: s.Name, Attr: AttrConfig, Msg: ce.Reason, Err: ce}
		}
		return fail(ce, "%s: %s", ce.Func, ce.Reason)
	}
	p.idle = append(p.idle, inst)
	p.brk = newBreaker(s, p.log)
	if s.OnBreaker != nil {
		s.OnBreaker(s.Name, false)
	}
	ok = true
	return p, nil
}

// checkBinary looks at the raw module before compiling: is it a core wasm
// module, and do its memories fit the limit (wazero would silently clamp a
// declared maximum)? It returns "" or the reason to refuse it.
func checkBinary(b []byte, limitPages uint64) string {
	trimmed := bytes.TrimSpace(b)
	switch {
	case bytes.HasPrefix(trimmed, []byte("(module")) || bytes.HasPrefix(trimmed, []byte(";;")):
		return "this is WebAssembly text (WAT), not a binary module: compile it with wat2wasm"
	case len(b) < 8 || !bytes.Equal(b[:4], wasmMagic):
		return `not a WebAssembly module (it does not start with "\0asm"): give the path of the compiled .wasm file`
	}
	if v := binary.LittleEndian.Uint32(b[4:8]); v != 1 {
		return fmt.Sprintf("binary format version 0x%x is not supported: a plugin must be a core WebAssembly 1.0 module (components are not supported)", v)
	}
	scan, err := scanModule(b)
	if err != nil {
		return "" // the compiler explains what is malformed
	}
	for _, m := range scan.memories {
		if m.min > limitPages {
			return fmt.Sprintf("the module declares an initial memory of %s, above its limit of %s: raise the plugin's memory limit in the policy",
				pagesText(m.min), pagesText(limitPages))
		}
		if m.hasMax && m.max > limitPages {
			return fmt.Sprintf("the module declares a maximum memory of %s, above its limit of %s: raise the plugin's memory limit in the policy or link with a smaller maximum (wasm-ld: --max-memory=%d)",
				pagesText(m.max), pagesText(limitPages), limitPages*pageSize)
		}
	}
	for _, imp := range scan.imports {
		return fmt.Sprintf("the module imports the %s %s.%s; a plugin may import only functions (from %q, %q and env.abort)",
			imp.kind, imp.module, imp.name, abi.ImportModule, wasiModule)
	}
	return ""
}

const wasiModule = "wasi_snapshot_preview1"

// reactorFlags are the build flags that make a reactor module, named in the
// refusal of a command module and listed in sdk/ABI.md §1.1.
const reactorFlags = "Go: -buildmode=c-shared, clang: -mexec-model=reactor, Rust: --crate-type cdylib, Zig: build-lib -dynamic"

// checkModule validates the compiled module's shape, exports and imports
// against sdk/ABI.md §1-2 and records its hooks in p. It returns "" or the
// reason to refuse it. wasm is the module's bytes, for hints.
func (e *Engine) checkModule(cm wazero.CompiledModule, wasm []byte, p *Plugin) string {
	exports := cm.ExportedFunctions()
	_, hasStart := exports[abi.ExportStart]
	_, hasInit := exports[abi.ExportInitialize]
	if hasStart && !hasInit {
		return "this is a command module (it exports _start but not _initialize); build a reactor/library module instead: " + reactorFlags
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		return fmt.Sprintf("the module imports its memory (%s.%s); a plugin must define and export its own memory (do not link with --import-memory)", mod, name)
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Sprintf("the module does not export its linear memory as %q; every plugin must (toolchains do this by default)", abi.ExportMemory)
	}
	if _, ok := exports[abi.ExportABIVersion]; !ok {
		return noABIVersion(len(exports) == 0 && bytes.Contains(wasm, []byte("__heap_base")))
	}
	want := funcType{results: i32s(1)}
	check := []string{abi.ExportABIVersion, abi.ExportConfigure, abi.ExportHooks}
	check = append(check, hookExports[:]...)
	for _, name := range check {
		if def, ok := exports[name]; ok && !sameType(def, want) {
			return fmt.Sprintf("export %s has type %s; ABI v%d requires %s", name, typeOf(def), abi.Version, want)
		}
	}
	if def, ok := exports[abi.ExportInitialize]; ok && !sameType(def, funcType{}) {
		return fmt.Sprintf("export %s has type %s; it must be %s", abi.ExportInitialize, typeOf(def), funcType{})
	}
	if msg := e.checkImports(cm); msg != "" {
		return msg
	}
	for ph, name := range hookExports {
		if _, ok := exports[name]; ok {
			p.hooks[ph] = name
		}
	}
	_, p.configure = exports[abi.ExportConfigure]
	_, p.hooksMask = exports[abi.ExportHooks]
	p.initFn = hasInit
	return ""
}

// checkImports allows only the sluice host functions, WASI preview 1 and
// env.abort, each with its exact type (sdk/ABI.md §1, §8).
func (e *Engine) checkImports(cm wazero.CompiledModule) string {
	allowed := fmt.Sprintf("plugins may import only the %q host functions (%s), %q functions and env.abort",
		abi.ImportModule, e.hostNames(), wasiModule)
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		var want funcType
		found := false
		switch mod {
		case abi.ImportModule:
			for _, c := range e.host {
				if c.name == name {
					want, found = c.funcType(), true
				}
			}
			if !found {
				return fmt.Sprintf("the module imports %s.%s, which this Sluice does not provide (ABI v%d host functions: %s)",
					mod, name, abi.Version, e.hostNames())
			}
		case instrument.YieldModule:
			// Only the instrumentation's own import (instrument refuses a
			// module that imports from this module itself).
			if e.uninstrumented || name != instrument.YieldName {
				return fmt.Sprintf("the module imports %s.%s; %s", mod, name, allowed)
			}
		case wasiModule:
			want, found = e.wasi[name]
			if !found {
				return fmt.Sprintf("the module imports %s.%s, which is not a WASI preview 1 function", mod, name)
			}
		case envModule:
			if name != envAbortName {
				return fmt.Sprintf("the module imports %s.%s, which Sluice does not provide (an undefined C, Rust or Zig symbol ends up in %q: define it in the plugin or drop the dependency); %s",
					mod, name, envModule, allowed)
			}
			want = envAbortFunc().funcType()
		default:
			return fmt.Sprintf("the module imports %s.%s; %s", mod, name, allowed)
		}
		if !sameType(def, want) {
			return fmt.Sprintf("the module imports %s.%s with type %s; Sluice provides %s", mod, name, typeOf(def), want)
		}
	}
	return ""
}

// checkGrants refuses a module that imports a host function needing a
// capability that grants does not list (sdk/ABI.md §4.8). It runs after
// checkImports, which has checked that every import exists.
func (e *Engine) checkGrants(cm wazero.CompiledModule, grants []string) string {
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != abi.ImportModule {
			continue
		}
		for _, h := range e.host {
			switch {
			case h.name != name || h.grant == "":
			case h.grant == abi.GrantDKIMPrefix:
				if !slices.ContainsFunc(grants, isDKIMGrant) {
					return fmt.Sprintf("the module imports %s.%s, which needs a DKIM key: declare a dkim_key \"NAME\" block and add grants = [\"%sNAME\"] to the plugin block",
						mod, name, abi.GrantDKIMPrefix)
				}
			case h.grant == abi.GrantScanPrefix:
				if !slices.ContainsFunc(grants, isScanGrant) {
					return fmt.Sprintf("the module imports %s.%s, which needs a scanner: declare a scanner \"NAME\" block and add grants = [\"%sNAME\"] to the plugin block",
						mod, name, abi.GrantScanPrefix)
				}
			case !slices.Contains(grants, h.grant):
				return fmt.Sprintf("the module imports %s.%s, which needs the %q grant: add grants = [%q] to the plugin block",
					mod, name, h.grant, h.grant)
			}
		}
	}
	return ""
}

func sameType(def api.FunctionDefinition, t funcType) bool {
	return equalTypes(def.ParamTypes(), t.params) && equalTypes(def.ResultTypes(), t.results)
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func typeOf(def api.FunctionDefinition) string {
	return funcType{def.ParamTypes(), def.ResultTypes()}.String()
}

// String renders a signature as "(i32, i32) -> i32".
func (t funcType) String() string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, v := range ts {
			s[i] = api.ValueTypeName(v)
		}
		return strings.Join(s, ", ")
	}
	out := "(" + names(t.params) + ") -> "
	if len(t.results) == 1 {
		return out + names(t.results)
	}
	return out + "(" + names(t.results) + ")"
}

// isDKIMGrant reports whether g grants a DKIM key (sdk/ABI.md §4.10).
func isDKIMGrant(g string) bool { return strings.HasPrefix(g, abi.GrantDKIMPrefix) }

// noABIVersion explains a module without sluice_abi_version and how each SDK
// writes it. rustLike is a module that exports no function but the
// linker's __heap_base: a Rust cdylib whose plugin! line is missing, since
// without it the whole crate is dead code.
func noABIVersion(rustLike bool) string {
	msg := fmt.Sprintf("the module does not export %s; every plugin must export %s() -> i32 returning %d. ",
		abi.ExportABIVersion, abi.ExportABIVersion, abi.Version)
	if rustLike {
		msg += "It exports no function at all, like a Rust crate without the SDK's macro: end src/lib.rs with " +
			"sluice::plugin!(YourPlugin); (sdk/rust/README.md). "
	}
	return msg + "Each SDK writes it for you: Rust: sluice::plugin!(YourPlugin); " +
		"Go: import the SDK and call sluice.Register(&yourPlugin{}) from init; " +
		"C: #include \"sluice.h\"; AssemblyScript: export { sluice_abi_version } from the SDK's assembly/sluice.ts; " +
		"WAT: (func (export \"sluice_abi_version\") (result i32) (i32.const 1))"
}
