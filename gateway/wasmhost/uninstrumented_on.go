//go:build sluice_uninstrumented

package wasmhost

// loadUninstrumented makes every engine load modules as they are, without
// the stack budget and the countdown (stack.go, interrupt.go), for the
// differential run of the conformance vectors:
//
//	go test -tags sluice_uninstrumented ./gateway/conformance/
//
// must pass as the ordinary run does. Never in a build of the gateway.
const loadUninstrumented = true
