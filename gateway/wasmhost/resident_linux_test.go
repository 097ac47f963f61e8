package wasmhost

import (
	"syscall"
	"testing"
	"unsafe"
)

// residentPages counts the pages of b in memory (mincore(2)).
func residentPages(t *testing.T, b []byte) int {
	t.Helper()
	ps := syscall.Getpagesize()
	vec := make([]byte, (len(b)+ps-1)/ps)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
