//go:build !wasip1

package sluice

// register does nothing in a native build: there are no exports to serve.
func register(hooks) {}
