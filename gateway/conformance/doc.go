// Package conformance is the plugin conformance suite of
// sdk/CONFORMANCE.md §3; it has tests only. It runs the same vectors
// through the real host (wasmhost.Engine, filter.Chain, message.Parse)
// against the example filter and the probe of every SDK language, built by
// `make examples probes` to bin/examples/<lang>.wasm and
// bin/conformance/<lang>.wasm, and expects byte-identical results except
// for the <lang> values. A missing module fails the suite: every language
// must keep up with the ABI.
//
// Subtests are named <lang>/<vector>, for example
//
//	go test -count=1 -run 'TestConformance/wat/probe/verdict' ./gateway/conformance/
//
// While an SDK is being written, SLUICE_CONFORMANCE_LANGS (comma-separated,
// default all five) narrows the languages; `make conformance` never sets it.
//
// The 10,000 messages through one pooled instance run in full only without
// the race detector: the race-instrumented host is about ten times slower,
// `make test` runs every package under -race, and the plain
// `make conformance` run covers the vector in full. Under -race it runs
// 2,000 messages (see race_test.go). BenchmarkHook measures a warm hook
// call per language; it is a measurement, never pass/fail.
package conformance
