package instrument

import (
	"cmp"
	"slices"
)

// maxDataGap is the longest run of zeros coalesceData writes between two
// segments it merges. It is shorter than an OS page, so the zeros never
// touch a page of the instance's memory that no segment touches.
const maxDataGap = 4095

// maxDataZeros is how many zeros coalesceData may add to a data section
// smaller than that.
const maxDataZeros = 1 << 20

// coalesceData merges the active data segments of a data section into as
// few as it can, so that the module keeps the same bytes in a handful of
// segments (RATIONALE.md, "Data segments are merged at load").
//
// Go's linker leaves tens of thousands of small segments split by short
// runs of zeros (about 40,000 in a first-party plugin), and wazero pays
// for each one: a decoded segment of some 70 bytes in the compiled module,
// and a slice header per segment in every instance (about 1 MiB per
// instance of a Go plugin). The merged segment holds the gaps as zeros,
// which is what a fresh memory holds there. Segments are copied into the
// merged ones in their original order, so overlapping segments give what
// they gave; the merged segment ends where the last of its segments ends,
// so instantiation fails on exactly the memories it failed on before.
//
// The caller merges only when nothing can tell the difference: the module
// defines its own memory (an imported one could hold something in the
// gaps) and has no data count section (memory.init and data.drop, which
// name segments by index, need one). Here every segment must be active in
// memory 0 at an i32.const offset; otherwise c is returned unchanged. The
// zeros added never exceed maxDataZeros or the section's own size,
// whichever is more, so a small module cannot expand into a large one.
func coalesceData(c []byte) []byte {
	type segment struct {
		off  uint64
		init []byte
	}
	r := &reader{b: c}
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(c)) || n < 2 {
		return c
	}
	segs := make([]segment, 0, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		switch r.u32() {
		case 0:
		case 2:
			if r.u32() != 0 {
				return c
			}
		default: // passive
			return c
		}
		if r.byte() != opI32Const {
			return c
		}
		off := r.sleb(32)
		if r.byte() != opEnd || off < 0 {
			return c
		}
		init := r.bytes(uint64(r.u32()))
		segs = append(segs, segment{uint64(off), init})
	}
	if r.err != nil || r.pos != len(c) {
		return c
	}

	// Runs of segments, by offset, with gaps of at most maxDataGap zeros.
	order := make([]int, len(segs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(segs[a].off, segs[b].off) })
	type run struct{ start, end uint64 }
	var runs []run
	runOf := make([]int, len(segs))
	zeros, budget := uint64(0), uint64(max(len(c), maxDataZeros)) // gap bytes added, allowed
	for _, i := range order {
		s := segs[i]
		end := s.off + uint64(len(s.init))
		k := len(runs) - 1
		if k >= 0 && s.off <= runs[k].end+maxDataGap {
			gap := uint64(0)
			if s.off > runs[k].end {
				gap = s.off - runs[k].end
			}
			if zeros+gap <= budget {
				zeros += gap
				runs[k].end = max(runs[k].end, end)
				runOf[i] = k
				continue
			}
		}
		runs = append(runs, run{s.off, end})
		runOf[i] = len(runs) - 1
	}
	if len(runs) == len(segs) {
		return c // nothing to merge
	}
	bufs := make([][]byte, len(runs))
	for k, ru := range runs {
		bufs[k] = make([]byte, ru.end-ru.start)
	}
	for i, s := range segs { // in the module's order: a later segment wins
		copy(bufs[runOf[i]][s.off-runs[runOf[i]].start:], s.init)
	}
	out := appendU32(make([]byte, 0, len(c)+int(zeros)), uint32(len(runs)))
	for k, ru := range runs {
		out = append(out, 0, opI32Const)
		out = appendS64(out, int64(ru.start))
		out = append(out, opEnd)
		out = appendU32(out, uint32(len(bufs[k])))
		out = append(out, bufs[k]...)
	}
	return out
}
