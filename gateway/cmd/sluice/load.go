package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/metrics"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/proxy"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// common flags of the commands that load a policy.
type loadFlags struct {
	cacheDir  string
	logFormat string
	logLevel  string
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	def := ""
	if d, err := os.UserCacheDir(); err == nil {
		def = filepath.Join(d, "sluice")
	}
	fs.StringVar(&l.cacheDir, "cache-dir", def, "directory for the compiled-plugin cache (\"\" = in memory)")
	fs.StringVar(&l.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func (l *loadFlags) logger(w io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.logLevel)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(l.logFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// engine creates the plugin engine; store, if not nil, is the key/value
// store behind the "kv" grant (else the engine keeps one in memory).
func (l *loadFlags) engine(ctx context.Context, log *slog.Logger, store kv.Store) (*wasmhost.Engine, error) {
	if l.cacheDir != "" {
		if err := os.MkdirAll(l.cacheDir, 0o700); err != nil {
			log.Warn("compilation cache disabled", "dir", l.cacheDir, "err", err)
			l.cacheDir = ""
		}
	}
	return wasmhost.NewEngine(ctx, wasmhost.EngineOptions{CacheDir: l.cacheDir, Logger: log, KV: store})
}

// build loads and builds a policy; override adjusts it before building; res,
// if set, answers every DNS lookup instead of the policy's resolver.
func build(ctx context.Context, path string, eng *wasmhost.Engine, log *slog.Logger, override func(*policy.Policy), obs proxy.Observer, res dns.Resolver) (*proxy.Generation, hcl.Diagnostics) {
	p, diags := policy.Load(path)
	if diags.HasErrors() {
		return nil, diags
	}
	if override != nil {
		wasMaildir := p.Upstream.Maildir != ""
		override(p)
		if wasMaildir && p.Upstream.Address != "" { // serve --upstream: SMTP without XCLIENT
			diags = append(diags, policy.OpenRelayWarning(path, &p.Upstream.Range))
		}
	}
	opts := proxy.Options{Engine: eng, Logger: log, Observer: obs, Resolver: res}
	if b, ok := obs.(interface{ PluginBreaker(string, bool) }); ok {
		opts.OnBreaker = b.PluginBreaker // metrics' sluice_plugin_breaker_open
	}
	gen, more := proxy.Build(ctx, p, opts)
	return gen, append(diags, more...)
}

// openKV opens the key/value store on disk when the policy has a kv block
// (read once at start-up: a reload does not move the store). It returns
// nil for an in-memory store, and also when the policy does not decode:
// building it reports that.
func openKV(path string, log *slog.Logger) (*kv.Memory, error) {
	p, diags := policy.Load(path)
	if diags.HasErrors() || p.KV.Path == "" {
		return nil, nil
	}
	if d := kvDiagnostics(p); d.HasErrors() {
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

// openRedisKV opens the shared key/value store when the policy's kv block
// names a Redis server (read once at start-up, like openKV). It returns
// nil without one. A server that is down is not an error: the store
// starts down, plugins get TEMPORARY, /readyz says so, and the store
// comes up when the server does.
func openRedisKV(path string, log *slog.Logger, met *metrics.Metrics) (*kv.Redis, error) {
	p, diags := policy.Load(path)
	if diags.HasErrors() || p.KV.Redis == "" {
		return nil, nil
	}
	r, err := kv.NewRedis(kv.RedisOptions{URL: p.KV.Redis, PasswordFile: p.KV.PasswordFile, Prefix: p.KV.Prefix,
		Timeout: p.KV.Timeout, Observe: met.KVCall})
	if err != nil {
		return nil, fmt.Errorf("%s", policy.FormatDiagnostic(policy.Error(p.KV.URLRange.Filename, &p.KV.URLRange, "Cannot use the Redis store", err.Error())))
	}
	met.KVPool(r.PoolStats, func() bool { return r.Err() == nil })
	if err := r.Err(); err != nil {
		log.Warn("the Redis key/value store is down; plugins get TEMPORARY until it answers", "redis", p.KV.Redis, "err", err)
	} else {
		log.Info("key/value store on Redis", "redis", p.KV.Redis)
	}
	return r, nil
}

// kvDiagnostics reports, at the kv block's path attribute, a store file
// that could not be saved: its directory is missing or not writable.
// `sluice check` and start-up refuse such a policy; a reload does not move
// the store, so it does not check.
func kvDiagnostics(p *policy.Policy) hcl.Diagnostics {
	if p == nil || p.KV.Path == "" {
		return nil
	}
	if err := kv.CheckPath(p.KV.Path); err != nil {
		return hcl.Diagnostics{policy.Error(p.KV.PathRange.Filename, &p.KV.PathRange, "Cannot keep the key/value store", err.Error())}
	}
	return nil
}
