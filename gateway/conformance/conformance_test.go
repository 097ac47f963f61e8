package conformance

import (
	"context"
	"testing"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// rig is what a vector gets: the shared engine, one language's modules and
// the plugins its vectors share.
type rig struct {
	eng *wasmhost.Engine
	lang
	shared *plugins
	// probeOf, if set, gives the probe instead of loading lang.probe: the
	// native Go probe run through sdk/go/sluicetest (sluicetest_test.go).
	probeOf func(t *testing.T, config []byte) plugin
}

// plugin is a plugin a vector puts in a chain: a loaded wasmhost.Plugin,
// or a native one run by sluicetest.
type plugin interface {
	filter.Plugin
	Name() string
}

// plugins are loaded plugins shared by one language's vectors, by module and
// config. Sharing is realistic (a pooled instance serves one vector after
// another as it would serve sessions, so state leaking between calls would
// show) and keeps the suite fast: loading a Go module takes about 50 ms, and
// ten times that under -race. Vectors that measure a pool load their own.
type plugins struct {
	m map[string]*wasmhost.Plugin
}

func (ps *plugins) get(t *testing.T, e *wasmhost.Engine, name string, wasm, config []byte) *wasmhost.Plugin {
	t.Helper()
	key := name + "\x00" + string(config)
	if config == nil {
		key = name + "\x01"
	}
	if p, ok := ps.m[key]; ok {
		return p
	}
	p, err := e.Load(context.Background(), wasmhost.Spec{Name: name, Wasm: wasm, Config: config, Timeout: callTimeout})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ps.m[key] = p
	return p
}

func (ps *plugins) close() {
	for _, p := range ps.m {
		p.Close(context.Background())
	}
}

// sharedExample returns the shared example filter with this config (nil = none).
func (r rig) sharedExample(t *testing.T, config []byte) *wasmhost.Plugin {
	t.Helper()
	return r.shared.get(t, r.eng, "example", r.lang.example, config)
}

// sharedProbe returns the shared probe with this config (nil = none).
func (r rig) sharedProbe(t *testing.T, config []byte) plugin {
	t.Helper()
	if r.probeOf != nil {
		return r.probeOf(t, config)
	}
	return r.shared.get(t, r.eng, "probe", r.lang.probe, config)
}

// vector is one conformance check, run against every language with the
// same expectations (only the <lang> values differ).
type vector struct {
	name string
	run  func(t *testing.T, r rig)
}

// vectors lists every check, in the order of sdk/CONFORMANCE.md.
func vectors() []vector {
	var vs []vector
	vs = append(vs, exampleVectors()...)
	vs = append(vs, probeVectors()...)
	vs = append(vs, heavyVectors()...)
	vs = append(vs, vector{"meta", metaVector})
	return vs
}

// TestConformance runs every vector against every language, as subtests
// named <lang>/<vector>. A language whose modules are missing fails its
// subtest; the others still run.
func TestConformance(t *testing.T) {
	names := langsToTest(t)
	eng := newEngine(t)
	vs := vectors()
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			l := readLang(t, name)
			shared := &plugins{m: map[string]*wasmhost.Plugin{}}
			t.Cleanup(shared.close)
			for _, v := range vs {
				t.Run(v.name, func(t *testing.T) { v.run(t, rig{eng: eng, lang: l, shared: shared}) })
			}
		})
	}
}

// TestLangNames: the language list is all five unless narrowed, and a typo
// is an error rather than a silently empty suite.
func TestLangNames(t *testing.T) {
	if got, err := langNames(""); err != nil || len(got) != 5 {
		t.Errorf(`langNames("") = %v, %v`, got, err)
	}
	if got, err := langNames("go, wat"); err != nil || len(got) != 2 || got[0] != "go" || got[1] != "wat" {
		t.Errorf(`langNames("go, wat") = %v, %v`, got, err)
	}
	if _, err := langNames("go,rsut"); err == nil {
		t.Error("an unknown language was accepted")
	}
}
