package instrument

import "errors"

// The compiler allocates room for every entry a vector declares before it
// reads them, so the sections the rewrite copies unchanged are decoded here
// too: a module whose vectors do not fit in its bytes is refused before it
// reaches the compiler (see ErrCount).

// maxLocals is the most locals a function may declare, as in the major
// browser engines; the compiler would allocate a byte for each.
const maxLocals = 50000

// parseElements decodes the element section (the eight encodings of
// WebAssembly 2.0).
func parseElements(c []byte) error {
	r := &reader{b: c}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		flags := r.u32()
		if flags > 7 {
			return errors.New("invalid element segment flags")
		}
		if flags&3 == 2 { // explicit table index
			r.u32()
		}
		if flags&1 == 0 { // active: offset
			constExpr(r)
		}
		if flags&3 != 0 { // element kind or reference type
			r.byte()
		}
		for k := r.u32(); k > 0 && r.err == nil; k-- {
			if flags&4 == 0 {
				r.u32() // function index
			} else {
				constExpr(r)
			}
		}
	}
	return trailing(r)
}

// parseData decodes the data section.
func parseData(c []byte) error {
	r := &reader{b: c}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		switch r.u32() {
		case 0:
			constExpr(r)
		case 1:
		case 2:
			r.u32()
			constExpr(r)
		default:
			return errors.New("invalid data segment flags")
		}
		r.bytes(uint64(r.u32()))
	}
	return trailing(r)
}

// validNames reports whether a "name" custom section's function and local
// name maps are well formed.
func validNames(c []byte) bool {
	r := &reader{b: c}
	r.bytes(uint64(r.u32())) // "name"
	nameMap := func(r *reader) {
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
			r.bytes(uint64(r.u32()))
		}
	}
	for !r.done() {
		id := r.byte()
		sub := &reader{b: r.bytes(uint64(r.u32()))}
		if r.err != nil {
			return false
		}
		switch id {
		case 1: // function names
			nameMap(sub)
		case 2: // local names
			for n := sub.u32(); n > 0 && sub.err == nil; n-- {
				sub.u32()
				nameMap(sub)
			}
		default:
			continue
		}
		if trailing(sub) != nil {
			return false
		}
	}
	return r.err == nil
}
