//go:build race

package conformance

// raceEnabled: the host is race-instrumented and about ten times slower, so
// the 10,000-message vector runs a fifth of its messages and the meta
// vector measures once (the non-race `make conformance` run covers them in
// full).
const raceEnabled = true
