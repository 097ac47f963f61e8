package wasmhost

import (
	"bytes"
	"errors"
)

// The WebAssembly 1.0 binary format (https://webassembly.github.io/spec/core/binary/)
// is scanned here only for what wazero does not report before instantiating:
// memory limits as declared (wazero clamps a declared maximum to the runtime
// limit silently) and imports that are not functions.

var wasmMagic = []byte("\x00asm")

// moduleScan is what scanModule found.
type moduleScan struct {
	memories []memLimits   // memories the module defines
	imports  []foreignKind // imports that are not functions or memories
}

type memLimits struct {
	min    uint64
	max    uint64
	hasMax bool
}

type foreignKind struct {
	module, name string
	kind         string // "table", "global" or "tag"
}

var errMalformed = errors.New("malformed module")

// scanModule reads the section headers of b and decodes the import and
// memory sections. A malformed module returns errMalformed: the compiler
// then reports what is wrong.
func scanModule(b []byte) (*moduleScan, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], wasmMagic) {
		return nil, errMalformed
	}
	r := &byteReader{b: b, pos: 8}
	var s moduleScan
	for r.pos < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil || size > uint64(len(r.b)-r.pos) {
			return nil, errMalformed
		}
		sec := &byteReader{b: r.b[r.pos : r.pos+int(size)]}
		r.pos += int(size)
		switch id {
		case 2:
			s.scanImports(sec)
		case 5:
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				s.memories = append(s.memories, sec.limits())
			}
		}
		if sec.err != nil {
			return nil, errMalformed
		}
	}
	return &s, nil
}

func (s *moduleScan) scanImports(r *byteReader) {
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		mod, name := r.name(), r.name()
		switch r.byte() {
		case 0: // function: type index
			r.u32()
		case 1: // table: reference type, limits
			r.byte()
			r.limits()
			s.imports = append(s.imports, foreignKind{mod, name, "table"})
		case 2: // memory: reported by wazero's ImportedMemories
			r.limits()
		case 3: // global: value type, mutability
			r.byte()
			r.byte()
			s.imports = append(s.imports, foreignKind{mod, name, "global"})
		case 4: // tag (exception handling): attribute, type index
			r.byte()
			r.u32()
			s.imports = append(s.imports, foreignKind{mod, name, "tag"})
		default:
			r.err = errMalformed
		}
	}
}

// byteReader decodes bytes and LEB128 numbers, remembering the first error.
type byteReader struct {
	b   []byte
	pos int
	err error
}

func (r *byteReader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.err = errMalformed
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

// u32 reads an unsigned LEB128 number of up to 64 bits (memory64 limits use
// the same encoding).
func (r *byteReader) u32() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errMalformed
	return 0
}

func (r *byteReader) name() string {
	n := r.u32()
	if r.err != nil || n > uint64(len(r.b)-r.pos) {
		r.err = errMalformed
		return ""
	}
	s := string(r.b[r.pos : r.pos+int(n)])
	r.pos += int(n)
	return s
}

// limits reads a limits record: a flag byte (bit 0: has maximum), a minimum
// and an optional maximum.
func (r *byteReader) limits() memLimits {
	flags := r.byte()
	l := memLimits{min: r.u32()}
	if flags&1 != 0 {
		l.max, l.hasMax = r.u32(), true
	}
	return l
}
