//go:build !linux

package wasmhost

import "testing"

// residentPages is not measured where linear memory stays in the Go heap.
func residentPages(t *testing.T, b []byte) int { return 0 }
