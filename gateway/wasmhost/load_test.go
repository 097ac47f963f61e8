package wasmhost

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const abiV1 = `(func (export "sluice_abi_version") (result i32) (i32.const 1))`

// TestLoadErrors checks that every refusal names the problem and its fix
// (these messages are what `sluice check` prints).
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		wasm  []byte // or
		wat   string
		spec  Spec
		wants []string
	}{
		{name: "not wasm", wasm: []byte("hello, world"),
			wants: []string{`not a WebAssembly module (it does not start with "\0asm")`}},
		{name: "wat text", wasm: []byte("(module)"),
			wants: []string{"WebAssembly text (WAT)", "wat2wasm"}},
		{name: "component", wasm: []byte("\x00asm\x0d\x00\x01\x00"),
			wants: []string{"core WebAssembly 1.0", "components are not supported"}},
		{name: "malformed", wasm: []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60"),
			wants: []string{"not a valid WebAssembly module"}},
		{name: "missing memory", wat: `(module ` + abiV1 + `)`,
			wants: []string{`does not export its linear memory as "memory"`}},
		{name: "missing abi version", wat: `(module (memory (export "memory") 1))`,
			wants: []string{"does not export sluice_abi_version", "sluice_abi_version() -> i32 returning 1",
				"Rust: sluice::plugin!(YourPlugin);", "Go: import the SDK and call sluice.Register(&yourPlugin{})"}},
		// What a Rust cdylib without sluice::plugin! compiles to.
		{name: "rust crate without plugin!", wat: `(module (memory (export "memory") 1)
			(global (export "__data_end") i32 (i32.const 65536)) (global (export "__heap_base") i32 (i32.const 65536)))`,
			wants: []string{"does not export sluice_abi_version", "like a Rust crate without the SDK's macro: end src/lib.rs with sluice::plugin!(YourPlugin);"}},
		{name: "abi version signature", wat: `(module (memory (export "memory") 1)
			(func (export "sluice_abi_version") (param i32) (result i32) (i32.const 1)))`,
			wants: []string{"export sluice_abi_version has type (i32) -> i32; ABI v1 requires () -> i32"}},
		{name: "hook signature", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func (export "sluice_on_data") (result i64) (i64.const 0)))`,
			wants: []string{"export sluice_on_data has type () -> i64; ABI v1 requires () -> i32"}},
		{name: "configure signature", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func (export "sluice_configure")))`,
			wants: []string{"export sluice_configure has type () -> (); ABI v1 requires () -> i32"}},
		{name: "abi v2", wat: `(module (memory (export "memory") 1)
			(func (export "sluice_abi_version") (result i32) (i32.const 2)))`,
			wants: []string{"plugin speaks ABI v2; this Sluice speaks ABI v1"}},
		{name: "command module", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func (export "_start")))`,
			wants: []string{"command module", "-buildmode=c-shared", "-mexec-model=reactor", "--crate-type cdylib"}},
		{name: "foreign import", wat: `(module (import "foo" "bar" (func))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports foo.bar", `import only the "sluice" host functions (`, "header_add", `"wasi_snapshot_preview1" functions and env.abort`}},
		{name: "env symbol", wat: `(module (import "env" "memcpy" (func (param i32 i32 i32) (result i32)))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports env.memcpy", "only the \"sluice\" host functions"}},
		{name: "unknown host function", wat: `(module (import "sluice" "frobnicate" (func))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports sluice.frobnicate, which this Sluice does not provide", "ABI v1 host functions: auth_check, auth_value, body_append"}},
		{name: "host function signature", wat: `(module (import "sluice" "log" (func (param i32)))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports sluice.log with type (i32) -> (); Sluice provides (i32, i32, i32) -> ()"}},
		{name: "unknown wasi function", wat: `(module (import "wasi_snapshot_preview1" "nope" (func))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports wasi_snapshot_preview1.nope, which is not a WASI preview 1 function"}},
		{name: "wasi signature", wat: `(module (import "wasi_snapshot_preview1" "random_get" (func (param i32)))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports wasi_snapshot_preview1.random_get with type (i32) -> (); Sluice provides (i32, i32) -> i32"}},
		{name: "imported memory", wat: `(module (import "env" "memory" (memory 1)) ` + abiV1 + `)`,
			wants: []string{"imports its memory (env.memory)", "--import-memory"}},
		{name: "imported global", wat: `(module (import "env" "g" (global i32))
			(memory (export "memory") 1) ` + abiV1 + `)`,
			wants: []string{"imports the global env.g", "only functions"}},
		{name: "initial memory above limit", wat: `(module (memory (export "memory") 20) ` + abiV1 + `)`,
			spec:  Spec{MemoryLimit: 1 << 20},
			wants: []string{"initial memory of 20 pages (1280 KiB), above its limit of 16 pages (1 MiB)", "raise the plugin's memory limit"}},
		{name: "maximum memory above limit", wat: `(module (memory (export "memory") 1 100) ` + abiV1 + `)`,
			spec:  Spec{MemoryLimit: 1 << 20},
			wants: []string{"maximum memory of 100 pages (6400 KiB), above its limit of 16 pages (1 MiB)", "--max-memory=1048576"}},
		{name: "configure refuses", wat: `(module
			(import "sluice" "log" (func $log (param i32 i32 i32)))
			(memory (export "memory") 1)
			(data (i32.const 0) "missing key \"domain\"\n")
			` + abiV1 + `
			(func (export "sluice_configure") (result i32)
				(call $log (i32.const 3) (i32.const 0) (i32.const 21))
				(i32.const 1)))`,
			wants: []string{`plugin p1: refused its configuration: missing key "domain"`}},
		{name: "configure refuses silently", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func (export "sluice_configure") (result i32) (i32.const 7)))`,
			wants: []string{"plugin p1: refused its configuration (sluice_configure returned 7 and logged nothing; check the plugin's config in the policy)"}},
		{name: "configure traps", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func (export "sluice_configure") (result i32) unreachable))`,
			wants: []string{"sluice_configure: trapped: wasm error: unreachable"}},
		{name: "initialize traps", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func (export "_initialize") unreachable))`,
			wants: []string{"_initialize: trapped: wasm error: unreachable"}},
		{name: "initialize explains on stderr", wat: `(module
			(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
			(memory (export "memory") 1)
			(data (i32.const 0) "\10\00\00\00\1b\00\00\00")
			(data (i32.const 16) "fatal error: out of memory\n")
			` + abiV1 + `
			(func (export "_initialize")
				(drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 64)))
				unreachable))`,
			wants: []string{"_initialize: trapped: wasm error: unreachable; it wrote to stderr: fatal error: out of memory"}},
		{name: "start section traps", wat: `(module (memory (export "memory") 1) ` + abiV1 + `
			(func $s unreachable) (start $s))`,
			wants: []string{"instantiate: trapped:", "unreachable"}},
		{name: "abort during initialize", wat: `(module
			(import "env" "abort" (func $abort (param i32 i32 i32 i32)))
			(memory (export "memory") 1)
			(data (i32.const 0) "\06\00\00\00o\00o\00f\00")
			` + abiV1 + `
			(func (export "_initialize") (call $abort (i32.const 4) (i32.const 0) (i32.const 3) (i32.const 9))))`,
			wants: []string{"abort: plugin aborted: oof (?:3:9)"}},
		{name: "bad config", wat: `(module (memory (export "memory") 1) ` + abiV1 + `)`,
			spec:  Spec{Config: []byte("{nope")},
			wants: []string{"config is not valid JSON"}},
		{name: "no module", spec: Spec{},
			wants: []string{"no module given"}},
	}
	e, _ := newEngine(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			s.Name = "p1"
			switch {
			case tc.wasm != nil:
				s.Wasm = tc.wasm
			case tc.wat != "":
				s.Wasm = watModule(t, tc.wat)
			}
			p, err := e.Load(context.Background(), s)
			if err == nil {
				p.Close(context.Background())
				t.Fatal("Load succeeded")
			}
			var le *LoadError
			if !errors.As(err, &le) || le.Plugin != "p1" {
				t.Fatalf("error %T %v is not a LoadError for p1", err, err)
			}
			if !strings.HasPrefix(err.Error(), "plugin p1: ") {
				t.Errorf("error %q does not start with the plugin name", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestLoadFromPathWithCacheDir loads from a file with an on-disk
// compilation cache, twice (the second load is served by the cache).
func TestLoadFromPathWithCacheDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "good.wasm")
	if err := writeFile(path, module(t, "good")); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	for i := 0; i < 2; i++ {
		e, err := NewEngine(context.Background(), EngineOptions{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		wasm, err := ReadModule(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.Load(context.Background(), Spec{Name: "good", Wasm: wasm})
		if err != nil {
			t.Fatal(err)
		}
		if !p.Has(0) && !p.Has(4) {
			t.Error("no hooks")
		}
		p.Close(context.Background())
		e.Close(context.Background())
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "*"))
	if len(entries) == 0 {
		t.Error("the cache directory is empty")
	}
}
