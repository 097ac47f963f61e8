// Command conformance builds the Go SDK's probe plugin (package probe,
// sdk/CONFORMANCE.md §2) as a WebAssembly module:
//
//	./build.sh probe.wasm
package main

import (
	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/conformance/probe"
)

func init() { sluice.Register(probe.Probe{}) }

func main() {}
