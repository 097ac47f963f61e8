// Package lifecycle owns a running gateway from start to stop: it parses
// the policy once, builds the generation (plugins, chain, upstream and the
// listener's settings), serves it, and on a reload (SIGHUP, POST /reload,
// a changed file) parses once more, builds the new generation beside the
// running one, swaps it in only if it built, and drains the old one. An
// unchanged policy (same bytes of the policy, its plugin modules, TLS and
// DKIM files) is not rebuilt. cmd/sluice is only flags and wiring around it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// DrainTimeout bounds the wait for sessions in flight at shutdown, and for
// an old listener's sessions after a reload moved the listen address.
const DrainTimeout = 30 * time.Second

// reloadStopTimeout bounds the wait, at shutdown, for a reload that was
// building: shutdown cancels it, which stops its plugins' start-up at once;
// only compiling a large module goes on until it is done.
const reloadStopTimeout = 5 * time.Second

// Loader is how a policy becomes a generation: the one parse and the build.
// check, test and serve share it, so they report the same diagnostics.
type Loader struct {
	Engine *wasmhost.Engine
	Logger *slog.Logger
	// Override adjusts every parsed policy before it is built (serve's
	// --listen and --upstream).
	Override func(*policy.Policy)
	// Observer is told about sessions (metrics); nil for none.
	Observer bridge.Observer
	// Recorder is told every finished transaction (the admin console); nil
	// for none. If it has a PluginBreaker(plugin, open) method, it is told
	// about circuit breakers too.
	Recorder bridge.Recorder
	// Resolver, if set, answers every DNS lookup instead of the policy's
	// resolver block (`sluice test --dns-file`).
	Resolver dns.Resolver
	// Parse decodes the policy file; nil means policy.Load. It is the only
	// place a policy is parsed (tests count the calls).
	Parse func(path string) (*policy.Policy, hcl.Diagnostics)
}

func (l *Loader) parse(path string) (*policy.Policy, hcl.Diagnostics) {
	if l.Parse != nil {
		return l.Parse(path)
	}
	return policy.Load(path)
}

// Load parses the policy at path once and builds it.
func (l *Loader) Load(ctx context.Context, path string) (*bridge.Generation, hcl.Diagnostics) {
	p, diags := l.parse(path)
	if diags.HasErrors() {
		return nil, diags
	}
	gen, more := l.build(ctx, p)
	return gen, append(diags, more...)
}

// Check is Load plus what only `sluice check` and start-up verify: that the
// kv block's store file can be kept.
func (l *Loader) Check(ctx context.Context, path string) (*bridge.Generation, hcl.Diagnostics) {
	p, diags := l.parse(path)
	if diags.HasErrors() {
		return nil, diags
	}
	gen, more := l.build(ctx, p)
	return gen, append(append(diags, more...), KVDiagnostics(p)...)
}

// build applies the override and builds a decoded policy. A policy whose
// Maildir upstream the override replaced by an SMTP address gets the
// open-relay warning the policy decoder gives an address without XCLIENT.
func (l *Loader) build(ctx context.Context, p *policy.Policy) (*bridge.Generation, hcl.Diagnostics) {
	diags := l.override(p)
	gen, more := l.generation(ctx, p)
	return gen, append(diags, more...)
}

// override applies the Override to a freshly parsed policy.
func (l *Loader) override(p *policy.Policy) hcl.Diagnostics {
	if l.Override == nil {
		return nil
	}
	wasMaildir := p.Upstream.Maildir != ""
	l.Override(p)
	if wasMaildir && p.Upstream.Address != "" { // serve --upstream: SMTP without XCLIENT
		return hcl.Diagnostics{policy.OpenRelayWarning(p.Upstream.Range.Filename, &p.Upstream.Range)}
	}
	return nil
}

// generation builds a policy the override was applied to.
func (l *Loader) generation(ctx context.Context, p *policy.Policy) (*bridge.Generation, hcl.Diagnostics) {
	opts := bridge.Options{Engine: l.Engine, Logger: l.Logger, Observer: l.Observer, Resolver: l.Resolver, Recorder: l.Recorder}
	var breakers []func(string, bool)
	if b, ok := l.Observer.(interface{ PluginBreaker(string, bool) }); ok {
		breakers = append(breakers, b.PluginBreaker) // metrics' sluice_plugin_breaker_open
	}
	if b, ok := l.Recorder.(interface{ PluginBreaker(string, bool) }); ok {
		breakers = append(breakers, b.PluginBreaker) // the console's open breakers
	}
	if len(breakers) > 0 {
		opts.OnBreaker = func(plugin string, open bool) {
			for _, f := range breakers {
				f(plugin, open)
			}
		}
	}
	return bridge.Build(ctx, p, opts)
}

// KVDiagnostics reports, at the kv block's path attribute, a store file
// that could not be saved: its directory is missing or not writable.
// `sluice check` and start-up refuse such a policy; a reload does not move
// the store, so it does not check.
func KVDiagnostics(p *policy.Policy) hcl.Diagnostics {
	if p == nil || p.KV.Path == "" {
		return nil
	}
	if err := kv.CheckPath(p.KV.Path); err != nil {
		return hcl.Diagnostics{policy.Error(p.KV.PathRange.Filename, &p.KV.PathRange, "Cannot keep the key/value store", err.Error())}
	}
	return nil
}

// kvChanges warns, at the kv block of a reloaded policy, that its change
// waits for a restart: the store is opened once at start-up.
func kvChanges(running, now policy.KV) hcl.Diagnostics {
	if running.Path == now.Path && running.SaveInterval == now.SaveInterval {
		return nil
	}
	rng := now.Range
	if now.PathRange.Filename != "" {
		rng = now.PathRange
	}
	if rng.Filename == "" { // the block was removed
		return hcl.Diagnostics{policy.Warning(running.Range.Filename, nil, "Key/value store needs a restart",
			"The kv block was removed; the store opened at start-up stays in use until sluice restarts.")}
	}
	return hcl.Diagnostics{policy.Warning(rng.Filename, &rng, "Key/value store needs a restart",
		"The kv block is read at start-up; the store opened then stays in use until sluice restarts.")}
}

// OpenKV opens the key/value store on disk when p has a kv block (start-up
// only: a reload does not move the store). It returns nil for an in-memory
// store.
func OpenKV(p *policy.Policy, log *slog.Logger) (*kv.Memory, error) {
	if p == nil || p.KV.Path == "" {
		return nil, nil
	}
	if d := KVDiagnostics(p); d.HasErrors() {
		return nil, fmt.Errorf("%s", policy.FormatDiagnostic(d[0]))
	}
	m, err := kv.NewMemoryFile(kv.MemoryOptions{Path: p.KV.Path, SaveInterval: p.KV.SaveInterval,
		OnSaveError: func(err error) {
			log.Error("cannot save the key/value store; the file keeps its previous content", "path", p.KV.Path, "err", err)
		}})
	if err != nil {
		return nil, fmt.Errorf("key/value store: %w", err)
	}
	log.Info("key/value store loaded", "path", p.KV.Path)
	return m, nil
}

// OpenRedisKV opens the shared key/value store when p's kv block names a
// Redis server (start-up only, like OpenKV). It returns nil without one. A
// server that is down is not an error: the store starts down, plugins get
// TEMPERROR, /readyz says so, and the store comes up when the server does.
func OpenRedisKV(p *policy.Policy, log *slog.Logger, met *metrics.Metrics) (*kv.Redis, error) {
	if p == nil || p.KV.Redis == "" {
		return nil, nil
	}
	opts := kv.RedisOptions{URL: p.KV.Redis, PasswordFile: p.KV.PasswordFile, Prefix: p.KV.Prefix, Timeout: p.KV.Timeout}
	if met != nil {
		opts.Observe = met.KVCall
	}
	r, err := kv.NewRedis(opts)
	if err != nil {
		return nil, fmt.Errorf("%s", policy.FormatDiagnostic(policy.Error(p.KV.URLRange.Filename, &p.KV.URLRange, "Cannot use the Redis store", err.Error())))
	}
	if met != nil {
		met.KVPool(r.PoolStats, func() bool { return r.Err() == nil })
	}
	if err := r.Err(); err != nil {
		log.Warn("the Redis key/value store is down; plugins get TEMPERROR until it answers", "redis", p.KV.Redis, "err", err)
	} else {
		log.Info("key/value store on Redis", "redis", p.KV.Redis)
	}
	return r, nil
}

// Options configure Start.
type Options struct {
	Path   string
	Logger *slog.Logger
	// NewEngine (required) creates the plugin engine over the key/value
	// store opened from the policy's kv block (nil: the engine keeps one in
	// memory).
	NewEngine func(ctx context.Context, store kv.Store) (*wasmhost.Engine, error)
	// Override, Resolver and Parse are the Loader's.
	Override func(*policy.Policy)
	Parse    func(path string) (*policy.Policy, hcl.Diagnostics)
	// Metrics, if set, observes sessions, reloads and generations.
	Metrics *metrics.Metrics
	// NewRecorder, if set, is called once at start-up with the console
	// block of the policy (after Override) and returns the recorder told
	// every finished transaction (the console), or nil for none. A reload
	// that changes the block then gets a "needs a restart" warning: the
	// recorder keeps the settings it was made with.
	NewRecorder func(policy.Console) bridge.Recorder
	// Watch reloads when the policy or a file it names changes on disk.
	Watch bool
	// Debounce is the watcher's (0: DefaultDebounce).
	Debounce time.Duration
}

// ErrPolicy is Start's error when the policy has errors (in the diagnostics).
var ErrPolicy = errors.New("policy has errors; not starting")

// Gateway is one running gateway.
type Gateway struct {
	log      *slog.Logger
	loader   Loader
	metrics  *metrics.Metrics
	store    *kv.Memory
	shared   *kv.Redis // the kv block's Redis store, if any
	backend  *bridge.Backend
	reloader *Reloader
	front    *front
	milter   milterFront

	life context.Context // ends at shutdown; bounds reloads
	stop context.CancelFunc
	hup  chan struct{}

	lastMu  sync.Mutex
	last    Result         // the last reload's, without its generation
	reloads sync.WaitGroup // the watcher and the queued-reload runner
	stopped sync.Once
}

// Start parses the policy once, opens the key/value store, builds
// generation 1, listens and serves it. The diagnostics (warnings included)
// are for the operator; with errors in them Start returns ErrPolicy.
func Start(ctx context.Context, opts Options) (*Gateway, hcl.Diagnostics, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{log: log, metrics: opts.Metrics, hup: make(chan struct{}, 1)}
	g.loader = Loader{Logger: log, Override: opts.Override, Parse: opts.Parse}
	if opts.Metrics != nil {
		g.loader.Observer = opts.Metrics
	}
	p, diags := g.loader.parse(opts.Path)
	if diags.HasErrors() {
		return nil, diags, ErrPolicy
	}
	diags = append(diags, g.loader.override(p)...)
	// The console block is read here only: the recorder keeps its ring
	// under one rule for the life of the process (RATIONALE.md).
	if opts.NewRecorder != nil {
		g.loader.Recorder = opts.NewRecorder(p.Console)
	}
	if u, ok := g.loader.Recorder.(upstreamWatcher); ok {
		g.loader.Observer = upstreamTee{Observer: g.loader.Observer, watcher: u}
	}
	if kd := KVDiagnostics(p); kd.HasErrors() {
		return nil, append(diags, kd...), ErrPolicy
	}
	store, err := OpenKV(p, log)
	if err != nil {
		return nil, diags, err
	}
	g.store = store
	var kvStore kv.Store
	if store != nil {
		kvStore = store
	}
	shared, err := OpenRedisKV(p, log, opts.Metrics)
	if err != nil {
		return nil, diags, err
	}
	if shared != nil {
		g.shared, kvStore = shared, shared
	}
	eng, err := opts.NewEngine(ctx, kvStore)
	if err != nil {
		g.closeStore()
		return nil, diags, fmt.Errorf("cannot start the plugin engine: %w", err)
	}
	g.loader.Engine = eng
	gen, more := g.loader.generation(ctx, p)
	diags = append(diags, more...)
	if diags.HasErrors() {
		g.closeEngine()
		return nil, diags, ErrPolicy
	}
	if g.metrics != nil {
		g.metrics.SetGeneration(1)
	}
	g.life, g.stop = context.WithCancel(context.Background())
	g.backend = bridge.NewBackend(gen, log)
	g.front = &front{backend: g.backend, log: log, failed: make(chan error, 1)}
	started := p // the kv and console blocks are read from the start-up's policy only
	g.reloader = NewReloader(opts.Path, p, ReloaderOptions{Parse: g.loader.parse, Logger: log,
		Build: func(ctx context.Context, p *policy.Policy) (*bridge.Generation, hcl.Diagnostics) {
			gen, diags := g.loader.build(ctx, p)
			if gen != nil {
				diags = append(diags, g.front.changesOf(p)...)
				diags = append(diags, g.milter.changes(p.Milter)...)
				if diags.HasErrors() {
					gen.Release()
					return nil, diags
				}
				diags = append(diags, kvChanges(started.KV, p.KV)...)
				if opts.NewRecorder != nil {
					diags = append(diags, consoleChanges(started.Console, p.Console)...)
				}
			}
			return gen, diags
		},
		Swap: func(gen *bridge.Generation) {
			g.backend.Swap(gen)
			if g.front.serving() && !gen.Policy.NoListen {
				g.front.apply(gen.Policy.Listen)
			}
		},
		Report: func(r Result) {
			g.lastMu.Lock()
			g.last = r
			g.last.Gen = nil
			g.lastMu.Unlock()
			if g.metrics != nil {
				g.metrics.Reload(r.Status, r.Generation)
			}
		}})
	if !gen.Policy.NoListen {
		if err := g.front.start(gen.Policy.Listen); err != nil {
			g.stop()
			g.backend.Close()
			g.closeEngine()
			return nil, diags, fmt.Errorf("cannot listen on %s: %w", gen.Policy.Listen.Address, err)
		}
		log.Info("sluice listening", "address", g.front.Addr(), "policy", opts.Path, "plugins", len(gen.Policy.Plugins),
			"upstream", upstreamName(gen.Policy), "proxy_protocol", gen.Policy.Listen.ProxyProtocol, "upstream_tls", gen.Policy.Upstream.TLS)
	}
	if m := gen.Policy.Milter; m != nil {
		if err := g.milter.start(g.backend, m, log, g.front.failed); err != nil {
			g.stop()
			if g.front.serving() {
				_ = g.front.shutdown(context.Background())
			}
			g.backend.Close()
			g.closeEngine()
			return nil, diags, fmt.Errorf("cannot listen for milter connections on %s: %w", m.String(), err)
		}
		log.Info("sluice serving milter", "address", g.milter.Addr(), "policy", opts.Path, "plugins", len(gen.Policy.Plugins))
	}

	if opts.Watch {
		g.reloader.watching = make(chan struct{})
		g.reloads.Add(1)
		go func() {
			defer g.reloads.Done()
			if err := g.reloader.Watch(g.life, opts.Debounce); err != nil {
				log.Warn("policy file watching disabled", "err", err)
			}
		}()
	}
	// Queued reloads (SIGHUP) run beside the caller's signal loop, so
	// SIGTERM is heard during one; requests arriving meanwhile make one
	// more reload.
	g.reloads.Add(1)
	go func() {
		defer g.reloads.Done()
		for {
			select {
			case <-g.life.Done():
				return
			case <-g.hup:
				g.reloader.Reload(g.life)
			}
		}
	}()
	return g, diags, nil
}

func upstreamName(p *policy.Policy) string {
	if p.Upstream.Maildir != "" {
		return "maildir:" + p.Upstream.Maildir
	}
	return "smtp:" + p.Upstream.Address
}

// Addr is the address the SMTP listener is bound to ("" in milter-only
// mode).
func (g *Gateway) Addr() string { return g.front.Addr() }

// MilterAddr is the address the milter listener is bound to ("" without a
// milter block).
func (g *Gateway) MilterAddr() string { return g.milter.Addr() }

// Ready reports whether a generation serves new sessions.
func (g *Gateway) Ready() bool { return g.backend.Current() != nil }

// KVErr reports why the shared key/value store (Redis) cannot answer now,
// or nil: also nil without one.
func (g *Gateway) KVErr() error {
	if g.shared == nil {
		return nil
	}
	return g.shared.Err()
}

// Generation is the number of the generation serving new sessions.
func (g *Gateway) Generation() int { return g.reloader.Generation() }

// Reload reloads now; it ends early, as "failed", when ctx ends or the
// gateway shuts down.
func (g *Gateway) Reload(ctx context.Context) Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(g.life, cancel)()
	return g.reloader.Reload(ctx)
}

// RequestReload queues a reload (SIGHUP) and returns at once; requests made
// while one is queued are merged into it.
func (g *Gateway) RequestReload() {
	select {
	case g.hup <- struct{}{}:
	default: // one is already queued
	}
}

// Failed delivers the error of a listener that stopped for a reason other
// than shutdown.
func (g *Gateway) Failed() <-chan error { return g.front.failed }

// Shutdown cancels reloads, stops accepting, lets sessions in flight finish
// within DrainTimeout, then closes the generation, the plugin engine and
// the key/value store (saving it). Later calls do nothing.
func (g *Gateway) Shutdown() { g.stopped.Do(g.shutdown) }

func (g *Gateway) shutdown() {
	g.stop()
	stopped := make(chan struct{})
	go func() { g.reloads.Wait(); close(stopped) }()
	sctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // both front ends drain at once, within the same bound
		defer wg.Done()
		if merr := g.milter.shutdown(sctx); merr != nil && !errors.Is(merr, context.DeadlineExceeded) {
			g.log.Warn("milter shutdown", "err", merr)
		}
	}()
	if g.front.serving() {
		err = g.front.shutdown(sctx)
	}
	wg.Wait()
	cancel()
	select {
	case <-stopped:
	case <-time.After(reloadStopTimeout):
		g.log.Warn("a policy reload is still building; exiting without waiting for it")
	}
	g.backend.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		g.log.Warn("shutdown", "err", err)
	}
	g.closeEngine()
}

func (g *Gateway) closeEngine() {
	if g.loader.Engine != nil {
		g.loader.Engine.Close(context.Background())
	}
	g.closeStore()
}

// closeStore saves what plugins wrote; after the engine is closed.
func (g *Gateway) closeStore() {
	if g.shared != nil {
		g.shared.Close()
	}
	if g.store != nil {
		if err := g.store.Close(); err != nil {
			g.log.Error("cannot save the key/value store", "err", err)
		}
	}
}
