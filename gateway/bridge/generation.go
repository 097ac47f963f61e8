// Package bridge joins the parts: it builds a policy generation (compiled
// plugins, the chain, the upstream) and serves SMTP sessions on it, keeping
// the downstream transaction in step with the client's.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluice-mail/sluice/gateway/dns"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// Generation is one built policy: its plugins compiled and instantiated, its
// chain and its upstream. Sessions pin the generation they started on; it is
// closed when it has been replaced and its last session has ended.
type Generation struct {
	Policy *policy.Policy

	chain    *filter.Chain
	plugins  []*wasmhost.Plugin
	upstream upstream.Upstream
	// scanners are the policy's scanner blocks by name, for the host
	// functions that run them.
	scanners map[string]scan.Scanner
	limits   message.Limits
	hostname string
	log      *slog.Logger
	obs      Observer
	rec      Recorder // nil: no live session gathers its transactions

	refs    atomic.Int64 // 1 while current, +1 per session
	closeMu sync.Once
}

// Options are what Build needs besides the policy.
type Options struct {
	Engine *wasmhost.Engine
	Logger *slog.Logger
	// Upstream, if set, replaces the policy's upstream (tests).
	Upstream upstream.Upstream
	// Observer, if set, is told about sessions, plugin steps, downstream
	// commands and transaction outcomes (metrics).
	Observer Observer
	// Recorder, if set, is told every finished transaction of the live
	// sessions (not RunTest's): the admin console.
	Recorder Recorder
	// OnBreaker, if set, is told when a plugin's circuit breaker opens or
	// closes (wasmhost.Spec.OnBreaker; metrics).
	OnBreaker func(plugin string, open bool)
	// Resolver, if set, answers every plugin's DNS lookups and the host's
	// auth_check lookups instead of the policy's resolver block (`sluice
	// test --dns-file`).
	Resolver dns.Resolver
}

// Observer is told what happens in sessions; gateway/metrics implements it.
type Observer interface {
	SessionStart()
	SessionEnd()
	Step(filter.Step)
	// Upstream reports one downstream command (op is mail, rcpt, data,
	// rset or connect) and its result.
	Upstream(op string, d time.Duration, err error)
	// Transaction reports a finished message: delivered, rejected,
	// tempfailed or discarded.
	Transaction(outcome string)
}

type nopObserver struct{}

func (nopObserver) SessionStart()                         {}
func (nopObserver) SessionEnd()                           {}
func (nopObserver) Step(filter.Step)                      {}
func (nopObserver) Upstream(string, time.Duration, error) {}
func (nopObserver) Transaction(string)                    {}

// Build compiles every plugin of p and prepares its upstream. Errors are
// diagnostics against the policy's own lines (the plugin block that names a
// failing module), so `sluice check` and reloads report them the same way.
func Build(ctx context.Context, p *policy.Policy, opts Options) (*Generation, hcl.Diagnostics) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Generation{
		Policy:   p,
		hostname: p.Listen.Hostname,
		log:      log,
		limits:   message.Limits{MaxHeaderBytes: p.Listen.MaxHeaderSize, MaxHeaderFields: p.Listen.MaxHeaderFields},
		obs:      opts.Observer,
		rec:      opts.Recorder,
	}
	if g.obs == nil {
		g.obs = nopObserver{}
	}
	g.chain = &filter.Chain{}
	var diags hcl.Diagnostics
	// The policy's resolver block, if any, answers the "dns" grant's lookups.
	var resolver dns.Resolver
	if len(p.Resolver.Servers) > 0 || p.Resolver.Range.Filename != "" {
		resolver = dns.NewClient(dns.ClientOptions{Servers: p.Resolver.Servers, Timeout: p.Resolver.Timeout})
	}
	if opts.Resolver != nil {
		resolver = opts.Resolver
	}
	keys, kdiags := loadDKIMKeys(p.DKIMKeys)
	diags = append(diags, kdiags...)
	var sdiags hcl.Diagnostics
	g.scanners, sdiags = loadScanners(p.Scanners)
	diags = append(diags, sdiags...)
	for _, pl := range p.Plugins {
		wasm, err := wasmhost.ReadModule(pl.Wasm) // a regular file, size-capped
		if err != nil {
			rng := pl.WasmRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read plugin module",
				Detail: fmt.Sprintf("plugin %q: %v", pl.Name, err), Subject: &rng})
			continue
		}
		plug, err := opts.Engine.Load(ctx, wasmhost.Spec{
			Resolver: resolver, Name: pl.Name, Wasm: wasm, Config: pl.Config, Timeout: pl.Timeout, MemoryLimit: pl.Memory,
			OnBreaker: opts.OnBreaker, BreakerThreshold: breakerThreshold(pl.BreakerThreshold),
			BreakerWindow: pl.BreakerWindow, BreakerFaultRate: pl.BreakerFaultRate,
			BreakerBackoff: pl.BreakerBackoff, BreakerMaxBackoff: pl.BreakerMaxBackoff, Grants: pl.Grants,
			DKIMKeys: grantedKeys(keys, pl.Grants), Scanners: grantedScanners(g.scanners, pl.Grants), InitTimeout: pl.InitTimeout,
			MaxMessageSize: p.Listen.MaxMessageSize, KVQuota: pl.KVQuota,
		})
		if err != nil {
			rng := pl.DefRange
			msg := err.Error()
			var le *wasmhost.LoadError
			if errors.As(err, &le) {
				msg = le.Msg // without its own "plugin NAME: "
				// At the attribute at fault, when the block has it.
				switch {
				case le.Attr == wasmhost.AttrConfig && pl.ConfigRange.Filename != "":
					rng = pl.ConfigRange
				case le.Attr == wasmhost.AttrGrants && pl.GrantsRange.Filename != "":
					rng = pl.GrantsRange
				}
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin failed to load",
				Detail: fmt.Sprintf("plugin %q (%s): %s", pl.Name, pl.Wasm, msg), Subject: &rng})
			continue
		}
		g.plugins = append(g.plugins, plug)
		g.chain.Entries = append(g.chain.Entries, filter.Entry{Name: pl.Name, Plugin: plug, OnError: onError(pl.OnError)})
	}
	switch {
	case opts.Upstream != nil:
		g.upstream = opts.Upstream
	case p.NoListen:
		// Milter mode only: the MTA delivers, there is no upstream.
	case p.Upstream.Maildir != "":
		md, err := upstream.NewMaildir(p.Upstream.Maildir)
		if err != nil {
			rng := p.Upstream.Range
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot use Maildir",
				Detail: err.Error(), Subject: &rng})
		}
		g.upstream = md
	default:
		helo := p.Upstream.Helo
		if helo == "" {
			helo = p.Listen.Hostname
		}
		tlsMode, tlsCfg, err := upstreamTLS(p.Upstream)
		if err != nil {
			rng := p.Upstream.TLSCAFileRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read TLS CA file",
				Detail: err.Error(), Subject: &rng})
		}
		g.upstream = upstream.NewPool(upstream.NewSMTP(upstream.SMTPConfig{
			Address: p.Upstream.Address, Helo: helo, Logger: log,
			ConnectTimeout: p.Upstream.ConnectTimeout, CommandTimeout: p.Upstream.CommandTimeout, DataTimeout: p.Upstream.DataTimeout,
			XClient: p.Upstream.XClient, XForward: p.Upstream.XForward,
			TLS: tlsMode, TLSConfig: tlsCfg,
		}), upstream.PoolOptions{Logger: log})
	}
	if diags.HasErrors() {
		g.closeResources(ctx)
		return nil, diags
	}
	g.refs.Store(1)
	return g, diags
}

// breakerThreshold maps the policy's 0 ("no breaker") to wasmhost's
// negative value (0 there means the default).
func breakerThreshold(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func onError(s string) filter.OnError {
	switch s {
	case "continue":
		return filter.OnErrorContinue
	case "reject":
		return filter.OnErrorReject
	}
	return filter.OnErrorTempfail
}

// Scanner returns the policy's scanner named name, or nil.
func (g *Generation) Scanner(name string) scan.Scanner { return g.scanners[name] }

// Chain is the generation's plugin chain (the milter front end runs it).
func (g *Generation) Chain() *filter.Chain { return g.chain }

func (g *Generation) acquire() bool {
	for {
		n := g.refs.Load()
		if n <= 0 {
			return false
		}
		if g.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release drops a reference; the last one closes the plugins and the
// upstream's idle connections.
func (g *Generation) Release() {
	if g.refs.Add(-1) == 0 {
		g.closeResources(context.Background())
	}
}

func (g *Generation) closeResources(ctx context.Context) {
	g.closeMu.Do(func() {
		for _, p := range g.plugins {
			p.Close(ctx)
		}
		if c, ok := g.upstream.(io.Closer); ok {
			_ = c.Close()
		}
		for _, s := range g.scanners {
			_ = s.Close()
		}
	})
}

// Backend serves sessions on the current generation and swaps generations
// atomically: a session keeps the generation it started on.
type Backend struct {
	mu  sync.Mutex
	cur *Generation
	log *slog.Logger
}

// NewBackend serves gen.
func NewBackend(gen *Generation, log *slog.Logger) *Backend {
	return &Backend{cur: gen, log: log}
}

// Swap makes gen current for new sessions and retires the old generation,
// which closes when its last session ends.
func (b *Backend) Swap(gen *Generation) {
	b.mu.Lock()
	old := b.cur
	b.cur = gen
	b.mu.Unlock()
	if old != nil {
		old.Release()
	}
}

// Current returns the generation new sessions get.
func (b *Backend) Current() *Generation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// Close retires the current generation.
func (b *Backend) Close() { b.Swap(nil) }

// NewSession implements smtpd.Backend.
func (b *Backend) NewSession(ctx context.Context, ci smtpd.ConnInfo) (smtpd.Session, *smtp.Reply) {
	b.mu.Lock()
	gen := b.cur
	ok := gen != nil && gen.acquire()
	b.mu.Unlock()
	if !ok {
		return nil, smtp.ReplyShutdown
	}
	if rep := refuseOutsider(gen, ci); rep != nil {
		gen.Release()
		return nil, rep
	}
	return newSession(ctx, gen, ci)
}
