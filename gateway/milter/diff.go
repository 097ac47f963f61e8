package milter

import (
	"bytes"
	"strings"

	"github.com/sluice-mail/sluice/gateway/message"
)

// Edit is one milter header modification (the milter protocol's
// SMFIR_ADDHEADER, SMFIR_CHGHEADER and SMFIR_INSHEADER).
type Edit struct {
	Op    EditOp
	Index int    // Change: 1-based among fields of Name; Insert: 0-based position in the whole header
	Name  string // field name
	Value string // raw value after the colon, CRLF line breaks; "" with Change deletes
}

// EditOp is the kind of an Edit.
type EditOp int

const (
	Add    EditOp = iota // append at the end of the header
	Change               // replace (or, with an empty value, delete) the Index-th field named Name
	Insert               // insert at position Index of the whole header
)

// rawValue is the field's bytes after the colon, without the final CRLF,
// leading space kept: what the MTA stores after "Name:".
func rawValue(f message.Field) string {
	i := bytes.IndexByte(f.Raw, ':')
	return string(bytes.TrimSuffix(f.Raw[i+1:], []byte("\r\n")))
}

// HeaderEdits returns the edits that turn header before into header after,
// in the order they must be sent: each index refers to the header as the
// edits before it left it, which is how the MTA applies them. A field kept
// in place is never touched; within a run of changed fields, a removed
// field and a new one of the same name (paired in order) become a Change
// in place; other removed fields a Change with an empty value, which
// removes the field from the MTA's count; other new fields an Add at the
// end, an Insert elsewhere.
func HeaderEdits(before, after []message.Field) []Edit {
	ops := align(before, after)
	// work is the header as the MTA sees it after the edits so far.
	work := make([]string, len(before))
	for i, f := range before {
		work[i] = strings.ToLower(f.Name)
	}
	nth := func(pos int) int { // 1-based index of work[pos] among its name
		n := 0
		for _, w := range work[:pos+1] {
			if w == work[pos] {
				n++
			}
		}
		return n
	}
	var edits []Edit
	pos := 0
	for i := 0; i < len(ops); {
		if ops[i].keep {
			pos++
			i++
			continue
		}
		// A hunk: the deleted fields dels (consecutive at pos) become the
		// inserted fields ins. A deleted field paired, in order, with an
		// inserted one of the same name is changed in place.
		var dels, ins []int
		for ; i < len(ops) && !ops[i].keep; i++ {
			if ops[i].del {
				dels = append(dels, ops[i].b)
			} else {
				ins = append(ins, ops[i].a)
			}
		}
		pair := make(map[int]int) // ins index -> dels index
		k := 0
		for j, a := range ins {
			for m := k; m < len(dels); m++ {
				if strings.EqualFold(before[dels[m]].Name, after[a].Name) {
					pair[j], k = m, m+1
					break
				}
			}
		}
		d := 0 // next deleted field still in work, at pos
		for j, a := range ins {
			f := after[a]
			if m, ok := pair[j]; ok {
				for ; d < m; d++ {
					edits = append(edits, Edit{Op: Change, Index: nth(pos), Name: before[dels[d]].Name, Value: ""})
					work = append(work[:pos], work[pos+1:]...)
				}
				edits = append(edits, Edit{Op: Change, Index: nth(pos), Name: f.Name, Value: rawValue(f)})
				work[pos] = strings.ToLower(f.Name)
				d++
				pos++
				continue
			}
			if pos == len(work) {
				edits = append(edits, Edit{Op: Add, Name: f.Name, Value: rawValue(f)})
			} else {
				edits = append(edits, Edit{Op: Insert, Index: pos, Name: f.Name, Value: rawValue(f)})
			}
			work = append(work[:pos], append([]string{strings.ToLower(f.Name)}, work[pos:]...)...)
			pos++
		}
		for ; d < len(dels); d++ {
			edits = append(edits, Edit{Op: Change, Index: nth(pos), Name: before[dels[d]].Name, Value: ""})
			work = append(work[:pos], work[pos+1:]...)
		}
	}
	return edits
}

type alignOp struct {
	keep, del, ins bool
	b, a           int
}

// align is a longest-common-subsequence alignment of the two headers on
// whole fields (name and raw bytes). Headers are bounded by the listener's
// max_header_fields; the table is len(before)*len(after) small ints, so
// above a bound the alignment falls back to a prefix/suffix match.
func align(before, after []message.Field) []alignOp {
	// Common prefix and suffix first: the usual plugin adds a field or two.
	p := 0
	for p < len(before) && p < len(after) && bytes.Equal(before[p].Raw, after[p].Raw) {
		p++
	}
	s := 0
	for s < len(before)-p && s < len(after)-p && bytes.Equal(before[len(before)-1-s].Raw, after[len(after)-1-s].Raw) {
		s++
	}
	var ops []alignOp
	for i := 0; i < p; i++ {
		ops = append(ops, alignOp{keep: true, b: i, a: i})
	}
	mb, ma := before[p:len(before)-s], after[p:len(after)-s]
	ops = append(ops, lcs(mb, ma, p)...)
	for i := 0; i < s; i++ {
		ops = append(ops, alignOp{keep: true, b: len(before) - s + i, a: len(after) - s + i})
	}
	return ops
}

const maxLCSCells = 4 << 20

// lcs aligns the middle parts; off is their offset in both headers.
func lcs(b, a []message.Field, off int) []alignOp {
	n, m := len(b), len(a)
	if n*m > maxLCSCells { // replace the whole middle
		var ops []alignOp
		for i := range b {
			ops = append(ops, alignOp{del: true, b: off + i})
		}
		for j := range a {
			ops = append(ops, alignOp{ins: true, a: off + j})
		}
		return ops
	}
	// t[i][j] = LCS length of b[i:], a[j:]
	t := make([][]int32, n+1)
	for i := range t {
		t[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if bytes.Equal(b[i].Raw, a[j].Raw) {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	var ops []alignOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && bytes.Equal(b[i].Raw, a[j].Raw):
			ops = append(ops, alignOp{keep: true, b: off + i, a: off + j})
			i++
			j++
		case i < n && (j == m || t[i+1][j] >= t[i][j+1]):
			ops = append(ops, alignOp{del: true, b: off + i})
			i++
		default:
			ops = append(ops, alignOp{ins: true, a: off + j})
			j++
		}
	}
	return ops
}
