package sluicetest

import (
	"context"
	"fmt"

	"github.com/sluice-mail/sluice/gateway/filter"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Plugin is a native plugin as the gateway's filter chain sees a loaded
// one (filter.Plugin): each Call runs the hook under the gateway's plugin
// contract on the chain's own filter.State. It lets the gateway's tests,
// such as the conformance suite (gateway/conformance), run a plugin's Go
// code without compiling it to WebAssembly. Key/value, DNS, DKIM keys,
// grants and logs live in the Session returned by Session, shared by every
// call. A Plugin runs one call at a time.
type Plugin struct {
	name string
	p    any
	s    *Session
}

var _ filter.Plugin = (*Plugin)(nil)

// Load configures p under name with the configuration cfg (JSON, "{}" if
// empty) as the gateway loads a plugin: a refused configuration or a
// plugin error in Configure is an error.
func Load(name string, p any, cfg string) (*Plugin, error) {
	s := New()
	s.SetInfo(sluice.InfoPlugin, name)
	if cfg == "" {
		cfg = "{}"
	}
	if err := s.Configure(p, cfg); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	return &Plugin{name: name, p: p, s: s}, nil
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Session returns the emulated host behind the plugin, for its stores,
// grants and logs.
func (p *Plugin) Session() *Session { return p.s }

// Has reports whether the plugin implements the hook of ph.
func (p *Plugin) Has(ph filter.Phase) bool {
	_, ok := hookOf(p.p, Phase(ph)+PhaseConnect)
	return ok
}

// Call runs the hook of st.Phase on st. A plugin error (a misused host
// function, a panic, an invalid verdict or reply, an invalid body) is an
// error and the verdict Tempfail; like the gateway, Call leaves the
// rollback to the chain.
func (p *Plugin) Call(_ context.Context, st *filter.State) (filter.Verdict, error) {
	phase := Phase(st.Phase) + PhaseConnect
	hook, ok := hookOf(p.p, phase)
	if !ok {
		return filter.Continue, nil
	}
	effects := len(p.s.effects)
	v, err := p.s.exec(st, phase, hook)
	if err != nil {
		p.s.effects = p.s.effects[:effects]
		return filter.Tempfail, fmt.Errorf("plugin %s: %w", p.name, err)
	}
	return filter.Verdict(v), nil
}
