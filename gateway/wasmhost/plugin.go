package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/sdk/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Defaults of sdk/ABI.md §7 and of the pool.
const (
	DefaultTimeout     = 200 * time.Millisecond
	DefaultMemoryLimit = 64 << 20
	DefaultMaxIdle     = 64

	// minIdle instances stay pooled however long they are idle;
	// idleTimeout is how long any others may wait for a call. A new
	// instance of a Go plugin costs about 3 ms (BenchmarkNewInstance), so
	// a pool that a burst refills every idleTimeout costs little, and the
	// memory of a peak is given back soon after it (RATIONALE.md, "A
	// shrinking pool gives the heap back").
	minIdle     = 2
	idleTimeout = 15 * time.Second

	// DefaultKVQuota is Spec.KVQuota's default.
	DefaultKVQuota = abi.KVDefaultQuota

	// DefaultMaxMessageSize is Spec.MaxMessageSize's default: the
	// listener's default max_message_size (smtpd.DefaultMaxMessageSize,
	// which gateway/policy checks it against).
	DefaultMaxMessageSize = abi.DefaultMaxMessageSize
	// MessageGrowthAllowance is how much a message received near the size
	// limit may still grow (sdk/ABI.md §7): room for the trace, tag and
	// signature fields plugins add, so that a message the listener
	// accepted never becomes a plugin error it cannot get past.
	MessageGrowthAllowance = abi.MessageGrowthAllowance

	// DefaultInitTimeout bounds the start-up of a plugin at load:
	// instantiation, _initialize, sluice_abi_version, sluice_configure and
	// sluice_hooks together (Go's runtime start-up takes a few
	// milliseconds). An instance created for a hook call starts under that
	// call's deadline instead.
	DefaultInitTimeout = 10 * time.Second
	pageSize           = 65536
)

// Spec describes one plugin of a policy.
type Spec struct {
	Name string // the plugin's name in the policy, used in logs and errors
	// Resolver, if set, answers this plugin's DNS lookups (the policy's
	// resolver block) instead of EngineOptions.Resolver.
	Resolver dns.Resolver
	Wasm     []byte // the module (ReadModule reads one from a file)
	// Config is the plugin's configuration as JSON; nil means {}.
	Config []byte
	// Timeout bounds each hook call, including the start of a new instance
	// when none is idle; 0 means DefaultTimeout.
	Timeout time.Duration
	// InitTimeout bounds the plugin's start-up at Load (sdk/ABI.md §7);
	// 0 means DefaultInitTimeout.
	InitTimeout time.Duration
	// MemoryLimit caps each instance's linear memory, rounded up to 64 KiB
	// pages; 0 means DefaultMemoryLimit.
	MemoryLimit uint64
	// MaxIdle is how many idle instances are kept; 0 means DefaultMaxIdle.
	MaxIdle int
	// MaxMessageSize caps the message (header and body, as written
	// downstream) a data-phase call may leave: the listener's
	// max_message_size, or the message as received plus
	// MessageGrowthAllowance if that is more. Past it the call is a plugin
	// error, and body_replace or body_append past it traps at once. 0
	// means DefaultMaxMessageSize.
	MaxMessageSize int64
	// BreakerThreshold is how many faults in a row, of distinct calls,
	// open the plugin's circuit breaker (breaker.go); 0 means
	// DefaultBreakerThreshold, a negative value disables the breaker.
	BreakerThreshold int
	// BreakerWindow and BreakerFaultRate also open it: when at least
	// BreakerFaultRate (0 to 1) of the last BreakerWindow distinct calls
	// faulted. 0 means DefaultBreakerWindow and DefaultBreakerFaultRate.
	BreakerWindow    int
	BreakerFaultRate float64
	// BreakerBackoff is how long the breaker first stays open; it doubles
	// each time the trial call faults, up to BreakerMaxBackoff. 0 means
	// DefaultBreakerBackoff and DefaultBreakerMaxBackoff.
	BreakerBackoff    time.Duration
	BreakerMaxBackoff time.Duration
	// OnBreaker, if set, is told when the breaker opens (true) and closes
	// (false), and once with false when the plugin is loaded. It is called
	// under the breaker's lock and must not call the plugin.
	OnBreaker func(plugin string, open bool)
	// KVQuota is how many bytes the plugin's key/value namespace may take
	// (kv.Memory.SetQuota: keys, values and kv.EntryOverhead per key); a
	// write past it returns QUOTA (sdk/ABI.md §4.8). 0 means
	// DefaultKVQuota. It is set on the store when a plugin with the "kv"
	// grant loads, and applies to every generation of that plugin name.
	KVQuota int64
	// Grants are the capabilities the policy gives the plugin, such as
	// abi.GrantKV; a module importing a host function that needs a grant
	// not listed here is refused at load (sdk/ABI.md §4.8).
	Grants []string
	// DKIMKeys are the DKIM keys the plugin may sign with (the policy's
	// dkim_key blocks named by its "dkim:NAME" grants, sdk/ABI.md §4.10).
	DKIMKeys []*dkimsign.Key
	// Scanners are the content scanners the plugin may use, by name (the
	// policy's scanner blocks named by its "scan:NAME" grants, sdk/ABI.md
	// §4.12). The caller owns them.
	Scanners map[string]scan.Scanner
}

// hookExports maps each phase to its hook export (sdk/ABI.md §2).
var hookExports = [len(filter.Phases)]string{
	filter.Connect: abi.HookConnect,
	filter.Helo:    abi.HookHelo,
	filter.Mail:    abi.HookMail,
	filter.Rcpt:    abi.HookRcpt,
	filter.Data:    abi.HookData,
}

// Plugin is a loaded plugin: one wazero Runtime holding the compiled module
// and a pool of instances. It implements filter.Plugin and is safe for
// concurrent use.
type Plugin struct {
	name     string
	log      *slog.Logger
	rt       wazero.Runtime // shared (modcache.go): close only own instances
	compiled wazero.CompiledModule
	shared   *sharedModule
	release  func(context.Context, *sharedModule) error
	modConf  wazero.ModuleConfig
	config   []byte
	timeout  time.Duration
	maxMsg   int
	contract contract.Plugin // what each call's contract.Call knows of the plugin
	logs     *logLimiter     // rate limit of log and stdout/stderr
	maxIdle  int
	kv       kv.Store // namespaced by name
	dns      dns.Resolver
	dkim     map[string]*dkimsign.Key // granted DKIM keys by name
	scanners map[string]scan.Scanner  // granted scanners by name

	hooks     [len(filter.Phases)]string // export per phase, "" if absent
	hooksMask bool                       // sluice_hooks is exported
	configure bool                       // sluice_configure is exported
	initFn    bool                       // _initialize is exported

	brk *breaker // nil if disabled

	mu     sync.Mutex
	idle   []*instance
	closed bool
	// trim is armed while more than minIdle instances are pooled, so that
	// a pool left behind by a burst shrinks even if no call comes.
	trim        *time.Timer
	idleTimeout time.Duration // idleTimeout; tests shorten it

	instantiations atomic.Int64 // instances created for calls (tests)
	// heap is the engine's: told when the pool closes idle instances or
	// the plugin closes, so the heap they freed goes back to the system.
	heap *heapRelease

	now func() time.Time // the pool's clock; tests set it
}

var _ filter.Plugin = (*Plugin)(nil)

// Name returns the plugin's name in the policy.
func (p *Plugin) Name() string { return p.name }

// Has reports whether the plugin exports the hook for ph.
func (p *Plugin) Has(ph filter.Phase) bool {
	return ph >= 0 && int(ph) < len(p.hooks) && p.hooks[ph] != ""
}

// Call runs the hook for st.Phase in a pooled instance, under the plugin's
// deadline. Any error is a plugin error (sdk/ABI.md §5): the instance is
// discarded, the verdict is Tempfail and the caller rolls st back. The
// verdict and the reply's class are checked by contract.Call.Result. While the
// plugin's circuit breaker is open, Call fails at once with a CallError of
// kind "breaker" without running the plugin.
func (p *Plugin) Call(ctx context.Context, st *filter.State) (v filter.Verdict, err error) {
	ph := st.Phase
	if !p.Has(ph) {
		return filter.Continue, nil
	}
	key := p.brk.callKey(st)
	probe, refused := p.brk.allow(ph, p.hooks[ph], key)
	if refused != nil {
		return filter.Tempfail, refused
	}
	defer func() { p.brk.record(probe, key, err) }() // runs after the recover below

	// The deadline covers starting an instance when none is idle.
	deadline := time.Now().Add(p.timeout)
	inst, err := p.take(ctx, ph, deadline)
	if err != nil {
		return filter.Tempfail, err
	}
	defer func() {
		// Our own bug after the guest returned must not crash the gateway
		// either (docs/TESTPLAN.md row 48).
		if r := recover(); r != nil {
			p.log.Error("plugin call panicked", "panic", fmt.Sprint(r))
			inst.close(ctx)
			v, err = filter.Tempfail, &CallError{Plugin: p.name, Phase: ph, Func: p.hooks[ph],
				Kind: KindInternal, Reason: fmt.Sprintf("internal error: %v", r)}
		}
	}()

	cs := &inst.cs
	cs.reset(st, p.hooks[ph])
	inst.ctx.begin(ctx, deadline)
	inst.running = inst.ctx
	inst.guard.startCall()
	callErr := inst.hook[ph].CallWithStack(inst.ctx, inst.stack)
	ctxErr := inst.ctx.Err()
	inst.running = nil
	inst.ctx.end()
	if callErr == nil && ctxErr != nil {
		// The guest returned after its deadline (or its caller gave up):
		// its verdict comes too late to count.
		callErr = ctxErr
	}
	timedOut := errors.Is(ctxErr, context.DeadlineExceeded)

	var ce *CallError
	if callErr != nil {
		ce = p.callError(cs, ph, callErr, ctx.Err(), timedOut)
		inst.stackError(ce)
	} else {
		v = filter.Verdict(api.DecodeI32(inst.stack[0]))
		ce = p.checkResult(cs, ph, v)
	}
	cs.reset(nil, "") // keep no reference to the transaction
	if ce != nil {
		inst.close(ctx)
		return filter.Tempfail, ce
	}
	if inst.guard.deepest() > poolStackLimit {
		inst.close(ctx) // its grown stack stays with it otherwise
	} else {
		p.put(ctx, inst)
	}
	return v, nil
}

// checkResult validates what a hook returned and left behind
// (contract.Call.Result).
func (p *Plugin) checkResult(cs *callState, ph filter.Phase, v filter.Verdict) *CallError {
	if err := cs.c.Result(v); err != nil {
		return &CallError{Plugin: p.name, Phase: ph, Func: cs.hook, Kind: KindVerdict, Reason: err.Error()}
	}
	return nil
}

// callError describes a failed guest call. ABI misuse recorded by a host
// function names that function; a deadline or cancellation says so; a trap
// keeps the first line of wazero's message and the full error as Err.
func (p *Plugin) callError(cs *callState, ph filter.Phase, err, parentErr error, timedOut bool) *CallError {
	ce := &CallError{Plugin: p.name, Phase: ph, Func: cs.hook, Err: err}
	switch {
	case cs.err != nil:
		ce.Func, ce.Reason, ce.Kind = cs.err.fn, cs.err.msg, KindABI
	case parentErr != nil:
		ce.Reason, ce.Kind = "call cancelled: "+parentErr.Error(), KindCancelled
	case timedOut:
		ce.Reason, ce.Kind = fmt.Sprintf("did not return within %v; the plugin was stopped", p.timeout), KindTimeout
	default:
		ce.Reason, ce.Kind = firstLine(err), KindTrap
	}
	return ce
}

// take returns an idle instance, or a new one started before deadline (the
// hook call's: a slow start-up is that call's timeout).
func (p *Plugin) take(ctx context.Context, ph filter.Phase, deadline time.Time) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, &CallError{Plugin: p.name, Phase: ph, Func: p.hooks[ph], Kind: KindClosed, Reason: "plugin is closed"}
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1] // LIFO: the most recently used instance is warm
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	p.instantiations.Add(1)
	sc, cancel := newStartCtxDeadline(ctx, deadline, p.timeout, "the plugin's timeout, which includes starting a new instance")
	defer cancel()
	inst, ce := p.instantiate(sc)
	if ce == nil {
		ce = p.runConfigure(sc, inst)
	}
	if ce != nil {
		ce.Phase = ph
		if ce.Kind == "" {
			ce.Kind = KindInit
		}
		return nil, ce
	}
	return inst, nil
}

// put returns an instance to the pool after a successful call, and closes
// the instances a burst left behind: beyond minIdle, an instance idle for
// longer than idleTimeout goes. The pool is LIFO, so the least recently
// used instances are at the front and steady load keeps using the same few;
// without this, every concurrency peak would keep its instances (megabytes
// of linear memory each for a Go plugin) until the policy is reloaded.
func (p *Plugin) put(ctx context.Context, inst *instance) {
	now := p.now()
	inst.idleSince = now
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, inst)
		inst = nil
	}
	stale := p.staleLocked(now)
	p.mu.Unlock()
	if inst != nil {
		inst.close(ctx)
	}
	for _, s := range stale {
		s.close(ctx)
	}
	if len(stale) > 0 {
		p.heap.request()
	}
}

// staleLocked takes out of the pool the instances beyond minIdle idle for
// longer than idleTimeout, and arms the trim timer while instances beyond
// minIdle remain. p.mu is held.
func (p *Plugin) staleLocked(now time.Time) []*instance {
	n := 0
	for n < len(p.idle)-minIdle && now.Sub(p.idle[n].idleSince) > p.idleTimeout {
		n++
	}
	var stale []*instance
	if n > 0 {
		stale = append(stale, p.idle[:n]...)
		m := len(p.idle)
		p.idle = append(p.idle[:0], p.idle[n:]...)
		clear(p.idle[len(p.idle):m]) // no stale references behind len
	}
	if len(p.idle) > minIdle && p.trim == nil && !p.closed {
		// The oldest remaining instance is stale then; a little later, so
		// that the strict comparison above holds.
		wait := p.idle[0].idleSince.Add(p.idleTimeout).Sub(now) + p.idleTimeout/100
		p.trim = time.AfterFunc(max(wait, p.idleTimeout/100), p.trimIdle)
	}
	return stale
}

// trimIdle runs on the trim timer: it closes the stale instances of a pool
// that no call has touched since.
func (p *Plugin) trimIdle() {
	p.mu.Lock()
	p.trim = nil
	var stale []*instance
	if !p.closed {
		stale = p.staleLocked(p.now())
	}
	p.mu.Unlock()
	for _, s := range stale {
		s.close(context.Background())
	}
	if len(stale) > 0 {
		p.heap.request()
	}
}

// Close closes every idle instance and gives back the plugin's share of its
// runtime (modcache.go), which closes when no plugin holds it. An instance
// whose call is still running is closed when the call ends; calls after
// Close fail with an error.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.trim != nil {
		p.trim.Stop()
		p.trim = nil
	}
	p.mu.Unlock()
	for _, inst := range idle {
		inst.close(ctx)
	}
	if len(idle) > 0 {
		p.heap.request()
	}
	p.logs.flush()
	return p.release(ctx, p.shared)
}
