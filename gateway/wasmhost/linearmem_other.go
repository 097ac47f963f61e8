//go:build !linux

package wasmhost

// newLinearMemory is nil where no mapping is made: wazero's default (the
// Go heap) is kept.
var newLinearMemory func(max uint64) linearMemory
