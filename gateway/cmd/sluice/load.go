package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-mail/sluice/gateway/kv"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// common flags of the commands that load a policy.
type loadFlags struct {
	cacheDir  string
	logFormat string
	logLevel  string
}

// newLoadFlagSet is the flag set of the command name, printing its errors to
// stderr, with the loadFlags registered on it.
func newLoadFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *loadFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	lf := &loadFlags{}
	lf.register(fs)
	return fs, lf
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
		return slog.New(newLazyAttrs(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(newLazyAttrs(slog.NewTextHandler(w, opts)))
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
