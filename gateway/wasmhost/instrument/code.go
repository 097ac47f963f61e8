package instrument

// Opcodes the rewriter reads or writes.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opEnd         = 0x0b
	opBr          = 0x0c
	opReturn      = 0x0f
	opCall        = 0x10
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Const    = 0x41
	opI32LtS      = 0x48
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opRefFunc     = 0xd2
	prefixMisc    = 0xfc
	prefixSIMD    = 0xfd
	blockEmpty    = 0x40
)

// instr is one decoded instruction of a function body.
type instr struct {
	op   byte   // the opcode, or the prefix byte of a prefixed opcode
	raw  []byte // the whole encoding, immediates included
	simd bool   // a 0xFD (SIMD) instruction: its values are 16 bytes
}

// isValType reports whether c encodes a value type of WebAssembly 2.0:
// i32, i64, f32, f64, v128, funcref or externref.
func isValType(c byte) bool {
	switch c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	return false
}

// nextInstr decodes the instruction at r's position. It knows every
// instruction of WebAssembly 2.0 (what wazero's default features accept:
// MVP, sign extension, non-trapping conversions, bulk memory, reference
// types, multi-value, SIMD) and refuses the rest, so no instruction is ever
// copied without its immediates being understood.
func nextInstr(r *reader) instr {
	start := r.pos
	op := r.byte()
	in := instr{op: op}
	switch {
	case op == opBlock || op == opLoop || op == opIf:
		blockType(r)
	case op == opBr || op == 0x0d: // br, br_if: label
		r.u32()
	case op == 0x0e: // br_table: labels, default label
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x10: // call: function index
		r.u32()
	case op == 0x11: // call_indirect: type index, table index
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if c := r.byte(); !isValType(c) {
				r.fail("invalid value type 0x%02x in select", c)
			}
		}
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set: index
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores: alignment, offset
		memArg(r)
	case op == 0x3f || op == 0x40: // memory.size, memory.grow: memory index
		r.u32()
	case op == opI32Const:
		r.sleb(32)
	case op == 0x42: // i64.const
		r.sleb(64)
	case op == 0x43: // f32.const
		r.bytes(4)
	case op == 0x44: // f64.const
		r.bytes(8)
	case op == 0xd0: // ref.null: reference type
		if c := r.byte(); c != 0x70 && c != 0x6f {
			r.fail("invalid reference type 0x%02x", c)
		}
	case op == 0xd2: // ref.func: function index
		r.u32()
	case op == prefixMisc:
		miscInstr(r)
	case op == prefixSIMD:
		in.simd = true
		simdInstr(r)
	case op <= 0x01 || op == opElse || op == opEnd || op == opReturn || // unreachable, nop
		op == 0x1a || op == 0x1b || // drop, select
		(op >= 0x45 && op <= 0xc4) || // numeric, conversions, sign extension
		op == 0xd1: // ref.is_null
	case op == 0x12 || op == 0x13:
		r.fail("tail calls (opcode 0x%02x) are not supported", op)
	case op >= 0x06 && op <= 0x0a || op == 0x18 || op == 0x19 || op == 0x1f:
		r.fail("exception handling (opcode 0x%02x) is not supported", op)
	case op == 0xfe:
		r.fail("threads (opcode 0xfe) are not supported")
	default:
		r.fail("unknown opcode 0x%02x", op)
	}
	if r.err == nil {
		in.raw = r.b[start:r.pos]
	}
	return in
}

// blockType skips a block type: empty, one value type, or a type index
// (a non-negative signed 33-bit number).
func blockType(r *reader) {
	if r.pos < len(r.b) {
		if c := r.b[r.pos]; c == blockEmpty || isValType(c) {
			r.pos++
			return
		}
	}
	if v := r.sleb(33); v < 0 && r.err == nil {
		r.fail("invalid block type")
	}
}

// memArg skips a memory argument: alignment (bit 6 flags a memory index,
// multi-memory) and offset.
func memArg(r *reader) {
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.u32()
}

func miscInstr(r *reader) {
	switch sub := r.u32(); {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init: data index, memory index
		r.u32()
		r.u32()
	case sub == 9 || sub == 13: // data.drop, elem.drop
		r.u32()
	case sub == 10: // memory.copy: two memory indices
		r.u32()
		r.u32()
	case sub == 11: // memory.fill: memory index
		r.u32()
	case sub == 12 || sub == 14: // table.init, table.copy
		r.u32()
		r.u32()
	case sub >= 15 && sub <= 17: // table.grow, table.size, table.fill
		r.u32()
	default:
		r.fail("unknown opcode 0xfc %d", sub)
	}
}

// simdUndefined lists the unassigned opcodes below 0x100 of the SIMD
// proposal; every other one up to 0xff is an instruction.
var simdUndefined = map[uint32]bool{
	0x9a: true, 0xa2: true, 0xa5: true, 0xa6: true, 0xaf: true, 0xb0: true,
	0xb2: true, 0xb3: true, 0xb4: true, 0xbb: true, 0xc2: true, 0xc5: true,
	0xc6: true, 0xcf: true, 0xd0: true, 0xd2: true, 0xd3: true, 0xd4: true,
	0xe2: true, 0xee: true,
}

func simdInstr(r *reader) {
	switch sub := r.u32(); {
	case r.err != nil:
	case sub <= 0x0b || sub == 0x5c || sub == 0x5d: // loads, store, load_zero
		memArg(r)
	case sub == 0x0c || sub == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load_lane, store_lane
		memArg(r)
		r.byte()
	case sub > 0xff || simdUndefined[sub]:
		r.fail("unknown opcode 0xfd %d", sub)
	}
}

// body is a function body as rewritten: its local declarations, copied, and
// its instructions with the final end dropped, every return turned into a
// branch to the block that will wrap them, every function index moved up
// by one (the countdown's import takes index 0) and the countdown after
// each loop instruction.
type body struct {
	locals uint64 // how many locals it declares
	instrs uint64 // how many instructions it has
	simd   uint64 // how many of them are SIMD instructions
	entry  uint32 // the countdown cost of its instructions outside loops
	decl   []byte // the local declarations, encoded
	code   []byte // the rewritten instructions
}

// rewriteBody decodes a function body and rewrites it; fuel is the index
// of the countdown global.
func rewriteBody(b []byte, fuel uint32) (*body, error) {
	r := &reader{b: b}
	out := &body{}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		if out.locals += uint64(r.u32()); out.locals > maxLocals {
			r.fail("more than %d locals", maxLocals)
		}
		if c := r.byte(); !isValType(c) && r.err == nil {
			r.fail("invalid local type 0x%02x", c)
		}
	}
	out.decl = b[:r.pos]
	start := r.pos
	costs, entry, err := loopCosts(&reader{b: b, pos: start})
	if err != nil {
		return nil, err
	}
	out.entry = entry
	out.code = make([]byte, 0, len(b)-r.pos+16+len(costs)*countdownSize)
	loops := 0
	depth := uint32(0) // blocks open inside the function
	for r.err == nil {
		if r.pos >= len(r.b) {
			r.fail("function body has no end")
			break
		}
		in := nextInstr(r)
		if r.err != nil {
			break
		}
		out.instrs++
		if in.simd {
			out.simd++
		}
		switch in.op {
		case opBlock, opIf:
			depth++
		case opLoop:
			depth++
			out.code = append(out.code, in.raw...)
			out.code = appendCountdown(out.code, fuel, costs[loops])
			loops++
			continue
		case opEnd:
			if depth == 0 {
				if r.pos != len(r.b) {
					r.fail("code after the end of the function body")
				}
				return out, r.err
			}
			depth--
		case opReturn:
			// The wrapping block has the function's results and takes the
			// function label's place, so a branch out of it returns.
			out.code = append(out.code, opBr)
			out.code = appendU32(out.code, depth)
			continue
		case opCall, opRefFunc:
			out.code = appendU32(append(out.code, in.op), funcIndex(in.raw[1:])+1)
			continue
		}
		out.code = append(out.code, in.raw...)
	}
	return nil, r.err
}

// loopCosts is the first pass over a body's instructions: the countdown
// cost of each loop, in the order the loops start, and of the function's
// entry. A loop is charged, at its header, the instructions directly inside
// it (those of nested loops are charged at theirs), and the entry the
// instructions outside every loop, one more each for the site itself. Only
// loops branch backwards, so between two countdown sites the guest runs
// each instruction at most once: the charges bound the work it did.
func loopCosts(r *reader) (costs []uint32, entry uint32, err error) {
	var open []int // for each open block: the loop it is (an index of costs), or -1
	counts := []uint64{0}
	owner := []int{0} // counts index of the innermost open loop, 0 for the function
	for r.err == nil && r.pos < len(r.b) {
		in := nextInstr(r)
		if r.err != nil {
			break
		}
		counts[owner[len(owner)-1]]++
		switch in.op {
		case opBlock, opIf:
			open = append(open, -1)
		case opLoop:
			counts = append(counts, 1) // the loop instruction and its site
			open = append(open, len(counts)-1)
			owner = append(owner, len(counts)-1)
		case opEnd:
			if len(open) == 0 {
				costs = make([]uint32, len(counts)-1)
				for i, c := range counts[1:] {
					costs[i] = uint32(min(c+1, MaxCost))
				}
				return costs, uint32(min(counts[0]+1, MaxCost)), nil
			}
			if open[len(open)-1] >= 0 {
				owner = owner[:len(owner)-1]
			}
			open = open[:len(open)-1]
		}
	}
	if r.err == nil {
		r.fail("function body has no end")
	}
	return nil, 0, r.err
}

// funcIndex decodes the function index immediate of call or ref.func.
func funcIndex(imm []byte) uint32 {
	return (&reader{b: imm}).u32()
}
