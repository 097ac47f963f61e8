package instrument

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// sectionContent returns the content of module b's section id, nil if none.
func sectionContent(t testing.TB, b []byte, id byte) []byte {
	t.Helper()
	r := &reader{b: b, pos: 8}
	for !r.done() {
		sid := r.byte()
		c := r.bytes(uint64(r.u32()))
		if sid == id {
			return c
		}
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return nil
}

func segmentCount(t testing.TB, data []byte) uint32 {
	t.Helper()
	r := &reader{b: data}
	n := r.u32()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return n
}

// memoryImage instantiates a module made of a memory of pages 64 KiB pages
// and the data section data, in wazero, and returns the memory's bytes:
// what an instance starts with, or the error instantiating gave.
func memoryImage(t testing.TB, data []byte, pages uint32) ([]byte, error) {
	t.Helper()
	put := func(out []byte, id byte, c []byte) []byte {
		return append(appendU32(append(out, id), uint32(len(c))), c...)
	}
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = put(b, 5, appendU32([]byte{1, 0}, pages))    // memory
	b = put(b, 7, []byte{1, 3, 'm', 'e', 'm', 2, 0}) // export "mem"
	b = put(b, secData, data)                        // data
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	m, err := rt.Instantiate(ctx, b)
	if err != nil {
		return nil, err
	}
	mem, _ := m.Memory().Read(0, m.Memory().Size())
	return bytes.Clone(mem), nil
}

// TestCoalesceDataSameMemory merges segments out of order, overlapping,
// empty, adjacent and apart, and checks that the memory a fresh instance
// starts with is the same byte for byte, and that instantiation fails on
// the same memories.
func TestCoalesceDataSameMemory(t *testing.T) {
	src := `(module (memory (export "m") 2)
  (data (i32.const 9000) "far")            ;; 4096 past the run below: its own
  (data (i32.const 100) "hello")
  (data (i32.const 102) "XY")              ;; overlaps, written later: wins
  (data (i32.const 0) "first")
  (data (i32.const 105) "")                ;; empty
  (data (i32.const 4200) "gap 4095")       ;; 105+4095: still merged
  (data (i32.const 12302) "next")          ;; 4200+8+4094
  (data (i32.const 101) "z")               ;; overlaps the overlap
)`
	b := wat(t, src)
	res, err := Rewrite(b, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	before, after := sectionContent(t, b, secData), sectionContent(t, res.Wasm, secData)
	// By offset: 0 to 4208 with gaps of at most 4095, then 9000 to 12306.
	if n := segmentCount(t, after); n != 2 {
		t.Errorf("%d segments after the merge, want 2:\n%s", n, wasm2wat(t, res.Wasm))
	}
	for _, pages := range []uint32{2, 1, 0} {
		want, wantErr := memoryImage(t, before, pages)
		got, gotErr := memoryImage(t, after, pages)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%d pages: instantiating the original gave %v, the merged %v", pages, wantErr, gotErr)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("%d pages: the merged segments give another memory", pages)
		}
	}
	img, _ := memoryImage(t, after, 2)
	if got := string(img[100:105]); got != "hzXYo" {
		t.Errorf("overlapping segments gave %q at 100, want %q", got, "hzXYo")
	}
}

// TestCoalesceDataLeavesAlone keeps the data section as it is wherever a
// merge could be seen: segment indices used by memory.init and data.drop
// (a data count section), an imported memory whose gaps may hold data, a
// passive segment, an offset read from a global.
func TestCoalesceDataLeavesAlone(t *testing.T) {
	for name, src := range map[string]string{
		"data count": `(module (memory 1) (data (i32.const 0) "a") (data (i32.const 2) "b")
  (func (export "f") (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 1)) (data.drop 0)))`,
		"imported memory": `(module (import "env" "mem" (memory 1)) (data (i32.const 0) "a") (data (i32.const 2) "b"))`,
		"passive":         `(module (memory 1) (data (i32.const 0) "a") (data "p") (data (i32.const 2) "b"))`,
		"global offset": `(module (import "env" "g" (global i32)) (memory 1)
  (data (i32.const 0) "a") (data (global.get 0) "g") (data (i32.const 2) "b"))`,
	} {
		t.Run(name, func(t *testing.T) {
			b := wat(t, src)
			res, err := Rewrite(b, testBudget)
			if err != nil {
				t.Fatal(err)
			}
			if before, after := sectionContent(t, b, secData), sectionContent(t, res.Wasm, secData); !bytes.Equal(before, after) {
				t.Errorf("data section changed:\n%s", wasm2wat(t, res.Wasm))
			}
		})
	}
}

// TestCoalesceDataBounded merges no more zeros than maxDataZeros into a
// small section: segments a few bytes long, each 4,000 bytes apart, would
// otherwise become megabytes.
func TestCoalesceDataBounded(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("(module (memory 64)\n")
	const n = 1000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "(data (i32.const %d) \"x\")\n", i*4001)
	}
	sb.WriteString(")")
	b := wat(t, sb.String())
	res, err := Rewrite(b, testBudget)
	if err != nil {
		t.Fatal(err)
	}
	before, after := sectionContent(t, b, secData), sectionContent(t, res.Wasm, secData)
	if len(after) > len(before)+maxDataZeros+4000 {
		t.Errorf("the data section grew from %d to %d bytes, past the allowance of %d zeros", len(before), len(after), maxDataZeros)
	}
	if got := segmentCount(t, after); got < 2 || got >= n {
		t.Errorf("%d segments after the merge, want a few (some merged, the rest beyond the allowance)", got)
	}
	want, _ := memoryImage(t, before, 64)
	got, _ := memoryImage(t, after, 64)
	if !bytes.Equal(want, got) {
		t.Fatal("the merged segments give another memory")
	}
}

// TestCoalesceDataRepoPlugins checks the first-party Go plugins: tens of
// thousands of segments become a few, and the memory an instance starts
// with is the same.
func TestCoalesceDataRepoPlugins(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(binDir, "plugins", "*.wasm"))
	if len(paths) == 0 {
		t.Fatalf("no modules in %s: run make plugins", filepath.Join(binDir, "plugins"))
	}
	for _, path := range paths[:min(len(paths), 3)] {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Rewrite(b, testBudget)
			if err != nil {
				t.Fatal(err)
			}
			before, after := sectionContent(t, b, secData), sectionContent(t, res.Wasm, secData)
			nb, na := segmentCount(t, before), segmentCount(t, after)
			if nb < 1000 || na > nb/100 {
				t.Errorf("%d segments before, %d after: want thousands merged into a few", nb, na)
			}
			want, err := memoryImage(t, before, 512) // 32 MiB: Go's data fits
			if err != nil {
				t.Fatal(err)
			}
			got, err := memoryImage(t, after, 512)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got) {
				t.Fatal("the merged segments give another memory")
			}
			t.Logf("%d segments (%d bytes) -> %d (%d bytes)", nb, len(before), na, len(after))
		})
	}
}
