//go:build !sluice_uninstrumented

package wasmhost

// loadUninstrumented: see uninstrumented_on.go.
const loadUninstrumented = false
