package lifecycle

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/internal/boundedfile"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// Result of one reload.
type Result struct {
	Status      string // "ok", "failed" or "unchanged"
	Generation  int    // the generation serving new sessions afterwards
	Diagnostics string // file:line:col lines, for "failed" (and warnings)
	Gen         *bridge.Generation
}

// Reloader owns the policy generations of one gateway.
type Reloader struct {
	path   string
	parse  func(path string) (*policy.Policy, hcl.Diagnostics)
	build  func(ctx context.Context, p *policy.Policy) (*bridge.Generation, hcl.Diagnostics)
	swap   func(*bridge.Generation)
	log    *slog.Logger
	report func(Result)
	// busy holds a token while a reload runs: reloads run one at a time,
	// and one queued behind another gives up when its context ends.
	busy    chan struct{}
	mu      sync.Mutex // guards current, files and gen
	current [32]byte
	files   []string // named by the last parse: what the watcher watches
	gen     int

	watching chan struct{} // tests: closed once Watch watches the files
}

// ReloaderOptions configure a Reloader.
type ReloaderOptions struct {
	// Parse decodes the policy file; nil means policy.Load. It is called
	// once per reload: its result decides "unchanged" and is what Build
	// builds (tests count the calls).
	Parse func(path string) (*policy.Policy, hcl.Diagnostics)
	// Build validates and compiles a decoded policy.
	Build func(ctx context.Context, p *policy.Policy) (*bridge.Generation, hcl.Diagnostics)
	// Swap makes a built generation current (bridge.Backend.Swap).
	Swap func(*bridge.Generation)
	// Report, if set, is told every result (metrics, TLS certificates).
	Report func(Result)
	Logger *slog.Logger
}

// NewReloader returns a Reloader for the policy at path, whose generation
// 1, built from running (the start-up's parse, not parsed again), is
// already serving.
func NewReloader(path string, running *policy.Policy, opts ReloaderOptions) *Reloader {
	r := &Reloader{path: path, parse: opts.Parse, build: opts.Build, swap: opts.Swap, log: opts.Logger, report: opts.Report, gen: 1,
		busy: make(chan struct{}, 1)}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.parse == nil {
		r.parse = policy.Load
	}
	r.files = []string{absPath(path)}
	if running != nil {
		r.current, r.files = Fingerprint(running)
	}
	return r
}

// Files are the files the last parse named (the policy file first): a
// change to any of them is a reason to reload.
func (r *Reloader) Files() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files
}

// Generation is the number of the generation serving new sessions.
func (r *Reloader) Generation() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

// Reload builds the policy again unless nothing changed, and swaps it in if
// it built. On failure the running generation keeps serving. Reloads run
// one at a time; ctx bounds both the wait for a reload in progress and the
// build (each plugin's start-up is bounded by its init_timeout), so a
// caller that gives up, or a shutdown, ends a reload early with "failed".
func (r *Reloader) Reload(ctx context.Context) Result {
	select {
	case r.busy <- struct{}{}:
	case <-ctx.Done():
		res := Result{Status: "failed", Generation: r.Generation(),
			Diagnostics: "reload cancelled while another reload was in progress: " + ctx.Err().Error() + "\n"}
		r.log.Error("reload cancelled; the running policy keeps serving", "policy", r.path, "err", ctx.Err().Error())
		r.done(res)
		return res
	}
	defer func() { <-r.busy }()
	r.mu.Lock()
	current, gen := r.current, r.gen
	r.mu.Unlock()
	// The one parse of this reload: its policy is fingerprinted and built.
	p, diags := r.parse(r.path)
	var fp [32]byte
	files := []string{absPath(r.path)}
	if p != nil && !diags.HasErrors() {
		fp, files = Fingerprint(p)
	}
	r.mu.Lock()
	r.files = files
	r.mu.Unlock()
	res := Result{Generation: gen}
	if !diags.HasErrors() && fp == current {
		res.Status = "unchanged"
		r.log.Info("policy unchanged; not rebuilt", "policy", r.path, "generation", gen)
		r.done(res)
		return res
	}
	var g *bridge.Generation
	if !diags.HasErrors() {
		var more hcl.Diagnostics
		g, more = r.build(ctx, p)
		diags = append(diags, more...)
	}
	var b strings.Builder
	policy.WriteDiagnostics(&b, diags)
	res.Diagnostics = b.String()
	if ctx.Err() != nil && !diags.HasErrors() {
		// Built, but the caller gave up meanwhile (shutdown): do not swap.
		if g != nil {
			g.Release()
			g = nil
		}
		res.Diagnostics += "reload cancelled: " + ctx.Err().Error() + "\n"
	}
	if diags.HasErrors() || g == nil {
		res.Status = "failed"
		r.log.Error("reload failed; the running policy keeps serving", "policy", r.path, "generation", gen,
			"diagnostics", res.Diagnostics)
		r.done(res)
		return res
	}
	r.swap(g)
	r.mu.Lock()
	r.gen++
	r.current = fp
	res.Status, res.Generation, res.Gen = "ok", r.gen, g
	r.mu.Unlock()
	attrs := []any{"policy", r.path, "generation", res.Generation, "plugins", len(g.Policy.Plugins), "files", len(files)}
	if res.Diagnostics != "" { // warnings: open relay, listener settings that need a restart
		r.log.Warn("policy reloaded with warnings", append(attrs, "diagnostics", res.Diagnostics)...)
	} else {
		r.log.Info("policy reloaded", attrs...)
	}
	r.done(res)
	return res
}

func (r *Reloader) done(res Result) {
	if r.report != nil {
		r.report(res)
	}
}

// Fingerprint hashes the decoded policy's source (Policy.Hash) and every
// file it names (plugin modules, TLS certificate and key, the downstream's
// CA file, DKIM keys), and returns those paths, the policy file first. It
// does not parse: a reload fingerprints the policy it parsed once.
func Fingerprint(p *policy.Policy) ([32]byte, []string) {
	h := sha256.New()
	files := []string{p.File}
	for _, pl := range p.Plugins {
		files = append(files, pl.Wasm)
	}
	if t := p.Listen.TLS; t != nil {
		files = append(files, t.CertFile, t.KeyFile)
	}
	if ca := p.Upstream.TLSCAFile; ca != "" {
		files = append(files, ca)
	}
	for _, k := range p.DKIMKeys {
		files = append(files, k.KeyFile)
	}
	h.Write([]byte(p.File))
	h.Write([]byte{0})
	h.Write(p.Hash[:])
	for _, f := range files[1:] {
		h.Write([]byte(f))
		h.Write([]byte{0})
		b, err := boundedfile.Read(f, wasmhost.MaxModuleSize) // the largest file a policy names
		if err != nil {
			h.Write([]byte("unreadable: " + err.Error()))
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	abs := make([]string, 0, len(files))
	for _, f := range files {
		abs = append(abs, absPath(f))
	}
	return sum, abs
}

func absPath(f string) string {
	if a, err := filepath.Abs(f); err == nil {
		return a
	}
	return f
}
