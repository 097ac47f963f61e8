package conformance

import (
	"testing"

	"github.com/sluice-mail/sluice/sdk/go/conformance/probe"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

// TestConformanceSluicetest runs every probe vector through sdk/go/sluicetest:
// the Go probe's own code, compiled natively, in the same chain and with the
// same expectations as TestConformance/go runs its WebAssembly build. Both
// run the one plugin contract (gateway/contract), so a plugin that passes
// its go test with sluicetest behaves the same in the gateway; this test
// keeps that true vector by vector.
func TestConformanceSluicetest(t *testing.T) {
	loaded := map[string]*sluicetest.Plugin{}
	r := rig{lang: lang{name: "go"}, probeOf: func(t *testing.T, config []byte) plugin {
		t.Helper()
		key := "\x00none"
		if config != nil {
			key = string(config)
		}
		if p, ok := loaded[key]; ok {
			return p
		}
		p, err := sluicetest.Load("probe", probe.Probe{}, string(config))
		if err != nil {
			t.Fatalf("sluicetest.Load: %v", err)
		}
		loaded[key] = p
		return p
	}}
	for _, v := range probeVectors() {
		t.Run(v.name, func(t *testing.T) { v.run(t, r) })
	}
}
