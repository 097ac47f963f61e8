// Package instrument rewrites a plugin module at load time so that the
// guest bounds its own call stack (sdk/ABI.md §7) and leaves for the host
// regularly, so that it can be stopped at its deadline (the countdown, see
// Fuel).
//
// wazero's compiler runs guest code on a Go-allocated stack that doubles
// whenever it is full, up to a fixed ceiling of tens of megabytes, and an
// instance keeps the grown stack for its life. The rewritten module keeps a
// stack budget in a global: every function subtracts its frame cost on entry
// and adds it back on exit, and traps with unreachable when the budget would
// go below zero. A second global keeps the budget's low-water mark, so the
// host can tell how deep an instance's stack ever went.
//
// The rewriting is structural: the three globals are appended after the
// module's own, a type is appended only if a function has several results
// (or none is () -> () for the yield import), the yield import becomes
// function 0 (every other function index moves up by one), and each
// function body becomes
//
//	global.get $budget, i32.const COST, i32.sub, global.set $budget
//	(update the low-water mark; trap if it went below zero)
//	(countdown: subtract the entry's cost, call $yield below zero)
//	block (result ...)        ;; takes the function label's place
//	  BODY                    ;; each return is now br to this block;
//	                          ;; each loop starts with a countdown
//	end
//	global.get $budget, i32.const COST, i32.add, global.set $budget
//
// A trap needs no restore: the host discards an instance after any fault.
//
// The rewrite also merges the module's many small data segments into a few
// (coalesceData), which leaves the memory an instance starts with as it was.
package instrument

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Export names of the two globals. The instance is anonymous, so only the
// host sees them.
const (
	BudgetExport = "sluice:stack_budget" // the remaining budget, in bytes
	LowExport    = "sluice:stack_low"    // the budget's lowest value so far
)

// The countdown. A third global counts down the guest's work: every
// function entry and every loop header subtracts its cost (the number of
// instructions the guest can run before it reaches another site, see
// loopCosts), and a site that takes it below zero calls the function the
// module imports as YieldModule.YieldName, then sets it back to Fuel. The
// host's function checks the call's deadline and lets the Go scheduler
// run, so a guest in any shape of loop, recursion or call tree leaves for
// the host about every Fuel instructions. The import is the module's
// function 0: every function index of the module moves up by one.
const (
	YieldModule = "sluice:yield"
	YieldName   = "yield"
	// Fuel is the work between two calls of the yield function: 100,000
	// instructions, tens of microseconds of compiled code.
	Fuel = 100_000
)

// Frame cost model, in bytes of wazero's machine stack. A compiled frame
// holds the return address, the frame pointer and wazero's frame header, the
// registers it saves, and a spill slot for each SSA value the register
// allocator spills; those values are the function's parameters and locals
// and the values its instructions produce, so a frame is never larger than
// FrameBase + SlotSize*(params+locals+instructions), with twice the slot for
// SIMD instructions (16-byte values). Parameters and locals may be v128, so
// they are charged 16 bytes each.
const (
	FrameBase = 256
	SlotSize  = 8
	LocalSize = 16
	// MaxCost caps a function's cost so budget arithmetic never wraps.
	MaxCost = 1 << 30
)

// FrameCost is the budget a call of a function takes.
func FrameCost(params, locals, instrs, simd uint64) uint32 {
	c := uint64(FrameBase)
	for _, t := range [...][2]uint64{{params + locals, LocalSize}, {instrs, SlotSize}, {simd, SlotSize}} {
		if t[0] > MaxCost/t[1] {
			return MaxCost
		}
		c += t[0] * t[1]
	}
	return uint32(min(c, MaxCost))
}

// Result is an instrumented module.
type Result struct {
	Wasm []byte
	// MaxFrame is the largest cost of one of its functions.
	MaxFrame uint32
}

// section ids and their order in a module (the data count section, 12,
// comes before the code section; tags, 13, before globals).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

type funcType struct {
	params  uint64
	results []byte // value types
	raw     []byte // the encoded type, 0x60 included
}

// Rewrite instruments module b with a stack budget of budget bytes. A module
// it cannot decode or rewrite is refused with an error; b is not modified.
func Rewrite(b []byte, budget uint32) (*Result, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) || !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}) {
		return nil, errors.New("not a WebAssembly 1.0 binary module")
	}
	if budget > math.MaxInt32 {
		return nil, fmt.Errorf("stack budget %d is above %d", budget, math.MaxInt32)
	}
	m := &module{budget: budget}
	if err := m.parse(b); err != nil {
		return nil, err
	}
	return m.emit()
}

type section struct {
	id      byte
	content []byte
}

type module struct {
	budget    uint32
	sections  []section
	types     []funcType
	funcTypes []uint32 // type index of each defined function
	globals   uint32   // imported and defined globals
	exports   map[string]bool
	codeSeen  bool
	// memImported and dataCount keep coalesceData from merging segments
	// where the difference could show (data.go).
	memImported bool
	dataCount   bool
}

func (m *module) parse(b []byte) error {
	r := &reader{b: b, pos: 8}
	last := 0
	for !r.done() {
		id := r.byte()
		content := r.bytes(uint64(r.u32()))
		if r.err != nil {
			return fmt.Errorf("section %d: %w", id, r.err)
		}
		if id != secCustom {
			rank, ok := sectionRank[id]
			if !ok {
				return fmt.Errorf("unknown section id %d", id)
			}
			if rank <= last {
				return fmt.Errorf("section %d is out of order or repeated", id)
			}
			last = rank
		} else if name := customName(content); name == "" || strings.HasPrefix(name, ".debug_") || name == "name" && !validNames(content) {
			// DWARF addresses code offsets, which the rewrite moves; a
			// malformed section of names is only debugging information.
			continue
		}
		if err := checkCount(id, content); err != nil {
			return err
		}
		var err error
		switch id {
		case secType:
			err = m.parseTypes(content)
		case secImport:
			err = m.parseImports(content)
		case secFunction:
			err = m.parseFunctions(content)
		case secGlobal:
			err = m.parseGlobals(content)
		case secExport:
			err = m.parseExports(content)
		case secElement:
			err = parseElements(content)
		case secData:
			err = parseData(content)
		case secDataCount:
			m.dataCount = true
		case secTag:
			err = errors.New("exception handling is not supported")
		}
		if err != nil {
			return fmt.Errorf("section %d: %w", id, err)
		}
		m.sections = append(m.sections, section{id, content})
	}
	return r.err
}

// ErrCount is the error of a section whose declared number of entries cannot
// fit in its bytes. Such a module is refused before it reaches the
// compiler, which would try to allocate room for all of them (a few bytes
// could ask for a hundred gigabytes and abort the process).
var ErrCount = errors.New("declares more entries than it has bytes")

// checkCount checks the entry count of a section made of a vector: each
// entry takes at least one byte.
func checkCount(id byte, content []byte) error {
	switch id {
	case secCustom, 8, 12: // custom, start, data count: not vectors
		return nil
	}
	r := &reader{b: content}
	if n := r.u32(); r.err == nil && uint64(n) > uint64(len(content)-r.pos) {
		return fmt.Errorf("section %d %w (%d entries in %d bytes)", id, ErrCount, n, len(content)-r.pos)
	}
	return nil
}

// customName is a custom section's name, or "" if it is malformed.
func customName(content []byte) string {
	r := &reader{b: content}
	name := r.bytes(uint64(r.u32()))
	if r.err != nil {
		return ""
	}
	return string(name)
}

func (m *module) parseTypes(c []byte) error {
	r := &reader{b: c}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		start := r.pos
		if f := r.byte(); f != 0x60 && r.err == nil {
			return fmt.Errorf("type form 0x%02x is not a function type", f)
		}
		var t funcType
		for i := r.u32(); i > 0 && r.err == nil; i-- {
			if uint64(i) > uint64(len(c)-r.pos) {
				r.fail("%w", ErrCount)
			}
			if !isValType(r.byte()) {
				r.fail("invalid parameter type")
			}
			t.params++
		}
		nres := r.u32()
		t.results = r.bytes(uint64(nres))
		for _, c := range t.results {
			if !isValType(c) {
				r.fail("invalid result type")
			}
		}
		t.raw = c[start:r.pos]
		m.types = append(m.types, t)
	}
	return trailing(r)
}

func (m *module) parseImports(c []byte) error {
	r := &reader{b: c}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		mod := r.bytes(uint64(r.u32()))
		name := r.bytes(uint64(r.u32()))
		if string(mod) == YieldModule && r.err == nil {
			return fmt.Errorf("the module imports %s.%s; the module name %q is reserved for Sluice's own instrumentation", mod, name, YieldModule)
		}
		switch r.byte() {
		case 0: // function
			r.u32()
		case 1: // table: reference type, limits
			r.byte()
			limits(r)
		case 2: // memory
			limits(r)
			m.memImported = true
		case 3: // global: value type, mutability
			r.byte()
			r.byte()
			m.globals++
		default:
			r.fail("unsupported import kind")
		}
	}
	return trailing(r)
}

func limits(r *reader) {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

func (m *module) parseFunctions(c []byte) error {
	r := &reader{b: c}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		t := r.u32()
		if r.err == nil && uint64(t) >= uint64(len(m.types)) {
			return fmt.Errorf("function type index %d out of range", t)
		}
		m.funcTypes = append(m.funcTypes, t)
	}
	return trailing(r)
}

func (m *module) parseGlobals(c []byte) error {
	r := &reader{b: c}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		if !isValType(r.byte()) {
			r.fail("invalid global type")
		}
		r.byte() // mutability
		constExpr(r)
		m.globals++
	}
	return trailing(r)
}

// constExpr skips a constant expression up to its end.
func constExpr(r *reader) {
	for r.err == nil {
		if nextInstr(r).op == opEnd {
			return
		}
	}
}

func (m *module) parseExports(c []byte) error {
	r := &reader{b: c}
	m.exports = map[string]bool{}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		m.exports[string(r.bytes(uint64(r.u32())))] = true
		r.byte()
		r.u32()
	}
	return trailing(r)
}

// shiftExports moves the function index of each function export up by one.
func shiftExports(c []byte) []byte {
	r := &reader{b: c}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(c)+8), n)
	for ; n > 0 && r.err == nil; n-- {
		start := r.pos
		r.bytes(uint64(r.u32()))
		kind := r.byte()
		out = append(out, c[start:r.pos]...)
		idx := r.u32()
		if kind == 0 {
			idx++
		}
		out = appendU32(out, idx)
	}
	return out
}

// shiftConstExpr copies a constant expression, moving ref.func's function
// index up by one.
func shiftConstExpr(r *reader, out []byte) []byte {
	for r.err == nil {
		in := nextInstr(r)
		if r.err != nil {
			break
		}
		if in.op == opRefFunc {
			out = appendU32(append(out, opRefFunc), funcIndex(in.raw[1:])+1)
		} else {
			out = append(out, in.raw...)
		}
		if in.op == opEnd {
			break
		}
	}
	return out
}

// shiftGlobals moves the function indices of the globals' initializers.
func shiftGlobals(c []byte) []byte {
	r := &reader{b: c}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(c)+8), n)
	for ; n > 0 && r.err == nil; n-- {
		out = append(out, r.byte(), r.byte())
		out = shiftConstExpr(r, out)
	}
	return out
}

// shiftElements moves the function indices of the element segments (the
// layout parseElements checked).
func shiftElements(c []byte) []byte {
	r := &reader{b: c}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(c)+8), n)
	for ; n > 0 && r.err == nil; n-- {
		flags := r.u32()
		out = appendU32(out, flags)
		if flags&3 == 2 {
			out = appendU32(out, r.u32())
		}
		if flags&1 == 0 {
			out = shiftConstExpr(r, out)
		}
		if flags&3 != 0 {
			out = append(out, r.byte())
		}
		k := r.u32()
		out = appendU32(out, k)
		for ; k > 0 && r.err == nil; k-- {
			if flags&4 == 0 {
				out = appendU32(out, r.u32()+1)
			} else {
				out = shiftConstExpr(r, out)
			}
		}
	}
	return out
}

// shiftNames moves the function indices of a valid "name" section: the
// function names, and the local and label names keyed by function.
func shiftNames(c []byte) []byte {
	r := &reader{b: c}
	start := r.pos
	r.bytes(uint64(r.u32()))
	out := append(make([]byte, 0, len(c)+8), c[start:r.pos]...)
	nameMap := func(r *reader, out []byte, shift bool) []byte {
		n := r.u32()
		out = appendU32(out, n)
		for ; n > 0 && r.err == nil; n-- {
			idx := r.u32()
			if shift {
				idx++
			}
			out = appendU32(out, idx)
			name := r.bytes(uint64(r.u32()))
			out = append(appendU32(out, uint32(len(name))), name...)
		}
		return out
	}
	for !r.done() {
		id := r.byte()
		content := r.bytes(uint64(r.u32()))
		sub := &reader{b: content}
		var nc []byte
		switch id {
		case 1: // function names
			nc = nameMap(sub, nil, true)
		case 2, 3: // local names, label names: by function
			n := sub.u32()
			nc = appendU32(nil, n)
			for ; n > 0 && sub.err == nil; n-- {
				nc = appendU32(nc, sub.u32()+1)
				nc = nameMap(sub, nc, false)
			}
			if sub.err != nil || sub.pos != len(content) {
				continue // malformed label names: dropped
			}
		default:
			nc = content
		}
		out = append(appendU32(append(out, id), uint32(len(nc))), nc...)
	}
	return out
}

func trailing(r *reader) error {
	if r.err == nil && r.pos != len(r.b) {
		return errors.New("section has trailing bytes")
	}
	return r.err
}

func (m *module) emit() (*Result, error) {
	if len(m.types) >= math.MaxUint32-2 {
		return nil, errors.New("too many types")
	}
	for _, name := range []string{BudgetExport, LowExport} {
		if m.exports[name] {
			return nil, fmt.Errorf("the module exports %q, a name Sluice reserves", name)
		}
	}
	if m.globals > math.MaxUint32-3 {
		return nil, errors.New("too many globals")
	}
	budgetIdx, lowIdx, fuelIdx := m.globals, m.globals+1, m.globals+2
	res := &Result{}
	var newTypes [][]byte
	// The type of the yield import, () -> ().
	yieldType := -1
	for i, t := range m.types {
		if t.params == 0 && len(t.results) == 0 {
			yieldType = i
			break
		}
	}
	if yieldType < 0 {
		yieldType = len(m.types)
		newTypes = append(newTypes, []byte{0x60, 0, 0})
	}
	var yieldImport []byte
	for _, s := range []string{YieldModule, YieldName} {
		yieldImport = append(appendU32(yieldImport, uint32(len(s))), s...)
	}
	yieldImport = appendU32(append(yieldImport, 0x00), uint32(yieldType))
	blockTypes := map[string]uint32{} // result types -> type index
	for i, t := range m.types {
		if t.params == 0 && len(t.results) > 1 {
			if _, ok := blockTypes[string(t.results)]; !ok {
				blockTypes[string(t.results)] = uint32(i)
			}
		}
	}

	// The two globals of the stack budget, mutable i32 set to the budget,
	// and their exports; the countdown, a mutable i32 set to Fuel.
	var globals []byte
	for _, v := range []int64{int64(m.budget), int64(m.budget), Fuel} {
		globals = append(globals, 0x7f, 0x01, opI32Const)
		globals = appendS64(globals, v)
		globals = append(globals, opEnd)
	}
	var exports []byte
	for i, name := range []string{BudgetExport, LowExport} {
		exports = appendU32(exports, uint32(len(name)))
		exports = append(exports, name...)
		exports = append(exports, 0x03)
		exports = appendU32(exports, budgetIdx+uint32(i))
	}

	var out []byte
	out = append(out, "\x00asm\x01\x00\x00\x00"...)
	put := func(id byte, content []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(content)))
		out = append(out, content...)
	}
	// sections still to add if the module has none of their kind
	pending := map[byte][]byte{
		secImport: append(appendU32(nil, 1), yieldImport...),
		secGlobal: append(appendU32(nil, 3), globals...),
		secExport: append(appendU32(nil, 2), exports...),
	}
	flush := func(before byte) {
		for _, id := range []byte{secImport, secGlobal, secExport} {
			if c, ok := pending[id]; ok && (before == 0 || sectionRank[id] < sectionRank[before]) {
				put(id, c)
				delete(pending, id)
			}
		}
	}
	var typeSection []byte // emitted once the code is rewritten
	typeAt := -1
	for _, s := range m.sections {
		if s.id != secCustom {
			flush(s.id)
		}
		switch s.id {
		case secType:
			typeAt = len(out)
			continue
		case secImport:
			delete(pending, secImport)
			s.content = prependVec(s.content, 1, yieldImport)
		case secGlobal:
			delete(pending, secGlobal)
			s.content = appendVec(shiftGlobals(s.content), 3, globals)
		case secExport:
			delete(pending, secExport)
			s.content = appendVec(shiftExports(s.content), 2, exports)
		case secStart:
			s.content = appendU32(nil, funcIndex(s.content)+1)
		case secElement:
			s.content = shiftElements(s.content)
		case secCustom:
			if customName(s.content) == "name" { // a valid one: parse checked
				s.content = shiftNames(s.content)
			}
		case secData:
			if !m.memImported && !m.dataCount {
				s.content = coalesceData(s.content)
			}
		case secCode:
			code, err := m.rewriteCode(s.content, budgetIdx, lowIdx, fuelIdx, blockTypes, &newTypes, res)
			if err != nil {
				return nil, err
			}
			s.content = code
		}
		put(s.id, s.content)
	}
	flush(0)

	// The type section, with the block types the rewrite needed.
	if len(m.types)+len(newTypes) > 0 {
		typeSection = appendU32(nil, uint32(len(m.types)+len(newTypes)))
		for _, t := range m.types {
			typeSection = append(typeSection, t.raw...)
		}
		for _, t := range newTypes {
			typeSection = append(typeSection, t...)
		}
		var sec []byte
		sec = append(sec, secType)
		sec = appendU32(sec, uint32(len(typeSection)))
		sec = append(sec, typeSection...)
		if typeAt < 0 {
			typeAt = 8 // no type section: it goes first
		}
		out = append(out[:typeAt:typeAt], append(sec, out[typeAt:]...)...)
	}
	res.Wasm = out
	return res, nil
}

// prependVec puts n encoded items in front of an encoded vector's.
func prependVec(vec []byte, n uint32, items []byte) []byte {
	r := &reader{b: vec}
	count := r.u32()
	out := appendU32(nil, count+n)
	out = append(out, items...)
	return append(out, vec[r.pos:]...)
}

// appendVec adds n encoded items to an encoded vector.
func appendVec(vec []byte, n uint32, items []byte) []byte {
	r := &reader{b: vec}
	count := r.u32()
	out := appendU32(nil, count+n)
	out = append(out, vec[r.pos:]...)
	return append(out, items...)
}

func (m *module) rewriteCode(c []byte, budgetIdx, lowIdx, fuelIdx uint32, blockTypes map[string]uint32, newTypes *[][]byte, res *Result) ([]byte, error) {
	r := &reader{b: c}
	n := r.u32()
	if r.err == nil && uint64(n) != uint64(len(m.funcTypes)) {
		return nil, fmt.Errorf("code section has %d bodies for %d functions", n, len(m.funcTypes))
	}
	out := appendU32(make([]byte, 0, len(c)+len(m.funcTypes)*40), n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		raw := r.bytes(uint64(r.u32()))
		if r.err != nil {
			break
		}
		t := m.types[m.funcTypes[i]]
		b, err := rewriteBody(raw, fuelIdx)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		cost := FrameCost(t.params, b.locals, b.instrs, b.simd)
		res.MaxFrame = max(res.MaxFrame, cost)

		// The block that wraps the body has the function's results.
		var bt []byte
		switch len(t.results) {
		case 0:
			bt = []byte{blockEmpty}
		case 1:
			bt = t.results
		default:
			idx, ok := blockTypes[string(t.results)]
			if !ok {
				idx = uint32(len(m.types) + len(*newTypes))
				nt := append([]byte{0x60, 0}, appendU32(nil, uint32(len(t.results)))...)
				*newTypes = append(*newTypes, append(nt, t.results...))
				blockTypes[string(t.results)] = idx
			}
			bt = appendS64(nil, int64(idx))
		}

		f := make([]byte, 0, len(b.decl)+len(b.code)+48+countdownSize)
		f = append(f, b.decl...)
		f = appendEnter(f, budgetIdx, lowIdx, cost)
		f = appendCountdown(f, fuelIdx, b.entry)
		f = append(f, opBlock)
		f = append(f, bt...)
		f = append(f, b.code...)
		f = append(f, opEnd)
		f = appendLeave(f, budgetIdx, cost)
		f = append(f, opEnd)
		out = appendU32(out, uint32(len(f)))
		out = append(out, f...)
	}
	if err := trailing(r); err != nil {
		return nil, err
	}
	return out, nil
}

// appendEnter takes cost from the budget; below the low-water mark it
// moves the mark, and below zero it traps.
func appendEnter(f []byte, budget, low, cost uint32) []byte {
	f = appendGlobal(f, opGlobalGet, budget)
	f = appendConst(f, cost)
	f = append(f, opI32Sub)
	f = appendGlobal(f, opGlobalSet, budget)
	f = appendGlobal(f, opGlobalGet, budget)
	f = appendGlobal(f, opGlobalGet, low)
	f = append(f, opI32LtS, opIf, blockEmpty)
	f = appendGlobal(f, opGlobalGet, budget)
	f = appendGlobal(f, opGlobalSet, low)
	f = appendGlobal(f, opGlobalGet, budget)
	f = appendConst(f, 0)
	f = append(f, opI32LtS, opIf, blockEmpty, opUnreachable, opEnd, opEnd)
	return f
}

// countdownSize is about the size of a countdown site's code.
const countdownSize = 32

// appendCountdown takes cost from the countdown; below zero it calls the
// yield import (function 0) and sets the countdown back to Fuel.
func appendCountdown(f []byte, fuel, cost uint32) []byte {
	f = appendGlobal(f, opGlobalGet, fuel)
	f = appendConst(f, cost)
	f = append(f, opI32Sub)
	f = appendGlobal(f, opGlobalSet, fuel)
	f = appendGlobal(f, opGlobalGet, fuel)
	f = appendConst(f, 0)
	f = append(f, opI32LtS, opIf, blockEmpty, opCall, 0)
	f = appendConst(f, Fuel)
	f = appendGlobal(f, opGlobalSet, fuel)
	return append(f, opEnd)
}

// appendLeave gives cost back to the budget.
func appendLeave(f []byte, budget, cost uint32) []byte {
	f = appendGlobal(f, opGlobalGet, budget)
	f = appendConst(f, cost)
	f = append(f, opI32Add)
	return appendGlobal(f, opGlobalSet, budget)
}

func appendGlobal(f []byte, op byte, idx uint32) []byte {
	return appendU32(append(f, op), idx)
}

func appendConst(f []byte, v uint32) []byte {
	return appendS64(append(f, opI32Const), int64(v))
}
