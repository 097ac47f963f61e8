package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/bridge"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/policy"
)

// What the admin console (gateway/console) reads of a running gateway.

// Policy is the policy of the generation serving new sessions, or nil
// after shutdown. It must not be changed.
func (g *Gateway) Policy() *policy.Policy {
	gen := g.backend.Current()
	if gen == nil {
		return nil
	}
	return gen.Policy
}

// Files are the files the running policy names, the policy file first.
func (g *Gateway) Files() []string { return g.reloader.Files() }

// LastReload is the result of the last reload (Status "" before the
// first); its Gen is nil.
func (g *Gateway) LastReload() Result {
	g.lastMu.Lock()
	defer g.lastMu.Unlock()
	return g.last
}

// TestMessage runs one message offline, as `sluice test` does, against the
// running policy: a generation is built from it beside the serving one,
// with an in-memory downstream that accepts everything (nothing is
// delivered) and a resolver that answers every DNS lookup NOT_FOUND (no
// lookup leaves the machine). It is told to neither the metrics nor the
// recorder. Plugins share the running engine, so a plugin's kv writes are
// real.
func (g *Gateway) TestMessage(ctx context.Context, in bridge.TestInput) (*bridge.TestResult, error) {
	p := g.Policy()
	if p == nil {
		return nil, errors.New("the gateway is shutting down")
	}
	zone, err := dns.ParseZone(strings.NewReader(""), "empty", "")
	if err != nil {
		return nil, err
	}
	gen, diags := bridge.Build(ctx, p, bridge.Options{Engine: g.loader.Engine, Logger: g.log, Resolver: zone})
	if diags.HasErrors() || gen == nil {
		var b strings.Builder
		policy.WriteDiagnostics(&b, diags)
		if gen != nil {
			gen.Release()
		}
		return nil, errors.New("cannot build the running policy: " + b.String())
	}
	defer gen.Release()
	return bridge.RunTest(ctx, gen, in), nil
}

// upstreamWatcher is a Recorder that wants the downstream commands'
// results too (the console's upstream health).
type upstreamWatcher interface {
	Upstream(op string, d time.Duration, err error)
}

// upstreamTee is the metrics' observer (if any) plus an upstreamWatcher.
type upstreamTee struct {
	bridge.Observer // nil without metrics
	watcher         upstreamWatcher
}

func (t upstreamTee) SessionStart() {
	if t.Observer != nil {
		t.Observer.SessionStart()
	}
}

func (t upstreamTee) SessionEnd() {
	if t.Observer != nil {
		t.Observer.SessionEnd()
	}
}

func (t upstreamTee) Step(s filter.Step) {
	if t.Observer != nil {
		t.Observer.Step(s)
	}
}

func (t upstreamTee) Transaction(outcome string) {
	if t.Observer != nil {
		t.Observer.Transaction(outcome)
	}
}

func (t upstreamTee) Upstream(op string, d time.Duration, err error) {
	if t.Observer != nil {
		t.Observer.Upstream(op, d, err)
	}
	t.watcher.Upstream(op, d, err)
}

// PluginBreaker passes the metrics' breaker gauge through (Loader.build).
func (t upstreamTee) PluginBreaker(plugin string, open bool) {
	if b, ok := t.Observer.(interface{ PluginBreaker(string, bool) }); ok {
		b.PluginBreaker(plugin, open)
	}
}

// consoleChanges warns, at each attribute of a reloaded policy's console
// block that differs from the one read at start-up (or at the block, or
// the file, when the attribute or the block was removed), that the change
// waits for a restart: the recorder keeps the settings it was made with, so
// what its ring holds always follows one rule.
func consoleChanges(running, now policy.Console) hcl.Diagnostics {
	if !running.Enabled && !now.Enabled {
		return nil // no console, then or now: nothing waits for a restart
	}
	var diags hcl.Diagnostics
	for _, s := range []struct {
		name     string
		was, now any
	}{
		{"enabled", running.Enabled, now.Enabled},
		{"size", consoleSize(running.Size), consoleSize(now.Size)},
		{"hash_addresses", running.HashAddresses, now.HashAddresses},
		{"headers", running.Headers, now.Headers},
	} {
		if s.was == s.now {
			continue
		}
		detail := fmt.Sprintf("console %s changed from %v to %v; the console keeps %v until sluice restarts.", s.name, s.was, s.now, s.was)
		rng, ok := now.Ranges[s.name]
		if !ok {
			rng = now.Range
		}
		if rng.Filename == "" { // the block was removed
			diags = append(diags, policy.Warning(running.Range.Filename, nil, "Console setting needs a restart", detail))
			continue
		}
		diags = append(diags, policy.Warning(rng.Filename, &rng, "Console setting needs a restart", detail))
	}
	return diags
}

// consoleSize names a ring size for consoleChanges: 0 is the console's
// default.
func consoleSize(n int) string {
	if n == 0 {
		return "the default"
	}
	return fmt.Sprint(n)
}
