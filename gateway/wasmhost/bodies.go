package wasmhost

import (
	"reflect"
	"unsafe"

	"github.com/tetratelabs/wazero"
)

// dropFunctionBodies lets the collector free the function bodies that
// wazero's compiled module keeps after compiling them to machine code, and
// returns how many bytes it let go (RATIONALE.md, "Compiled modules drop
// their function bodies").
//
// wazero v1.12's compiledModule holds the decoded *wasm.Module, whose
// CodeSection[i].Body is a copy of each function's bytecode. Only
// compilation and validation read it (internal/engine/wazevo/engine.go and
// internal/wasm/func_validation.go); instantiation uses the machine code,
// the function types and GoFunc of host functions. For a Go plugin the
// bodies are about 2.3 MB of live heap per compiled module. wazero exposes
// no way to drop them, so this reaches into its unexported fields by name;
// if a wazero upgrade changes them, nothing is dropped (0) and
// TestDropFunctionBodies fails, so the saving is never lost silently. cm
// must not be in use by another goroutine.
func dropFunctionBodies(cm wazero.CompiledModule) int {
	v := reflect.ValueOf(cm)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	mod := v.Elem().FieldByName("module")
	if !mod.IsValid() || mod.Kind() != reflect.Pointer || mod.IsNil() || mod.Elem().Kind() != reflect.Struct {
		return 0
	}
	code := mod.Elem().FieldByName("CodeSection")
	if !code.IsValid() || code.Kind() != reflect.Slice || code.Type().Elem().Kind() != reflect.Struct {
		return 0
	}
	body, ok := code.Type().Elem().FieldByName("Body")
	if !ok || body.Type != reflect.TypeFor[[]byte]() {
		return 0
	}
	dropped := 0
	for i := range code.Len() {
		b := code.Index(i).Field(body.Index[0])
		// The field is reached through an unexported one, so reflect
		// refuses to set it; its address is that of a []byte.
		p := (*[]byte)(unsafe.Pointer(b.UnsafeAddr()))
		dropped += cap(*p)
		*p = nil
	}
	return dropped
}
