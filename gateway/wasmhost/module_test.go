package wasmhost

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A module path naming a device is refused before anything is read, and
// a module given as bytes over the cap is refused too.
func TestLoadRefusesUnboundedModules(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t)
	start := time.Now()
	_, err := ReadModule("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadModule(/dev/zero) = %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("ReadModule(/dev/zero) took %v", el)
	}
	big := make([]byte, MaxModuleSize+1)
	copy(big, "\x00asm\x01\x00\x00\x00")
	if _, err := e.Load(ctx, Spec{Name: "big", Wasm: big}); err == nil || !strings.Contains(err.Error(), "above the limit of 64 MiB") {
		t.Errorf("Load(64 MiB + 1) = %v", err)
	}
}
