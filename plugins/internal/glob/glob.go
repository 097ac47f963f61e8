// Package glob matches the case-insensitive address patterns of the
// first-party plugins ("*@spam.example", "postmaster@*") in linear time.
package glob

import "errors"

// maxGlob is the most symbols a pattern may have once runs of '*' are
// collapsed: one state per symbol plus the final one fit in a stateSet.
const maxGlob = 255

// stateSet is a set of NFA states 0..255, one bit each.
type stateSet [4]uint64

func (s stateSet) and(t stateSet, w int) stateSet {
	for i := 0; i < w; i++ {
		s[i] &= t[i]
	}
	return s
}

func (s stateSet) or(t stateSet, w int) stateSet {
	for i := 0; i < w; i++ {
		s[i] |= t[i]
	}
	return s
}

// next moves every state i to i+1.
func (s stateSet) next(w int) stateSet {
	for i := w - 1; i > 0; i-- {
		s[i] = s[i]<<1 | s[i-1]>>63
	}
	s[0] <<= 1
	return s
}

func (s stateSet) empty(w int) bool {
	for i := 0; i < w; i++ {
		if s[i] != 0 {
			return false
		}
	}
	return true
}

func (s *stateSet) add(i int)     { s[i/64] |= 1 << (i % 64) }
func (s stateSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// Glob is a compiled pattern, matched by simulating its automaton with one
// bit per pattern position (the shift-and method). State i means "the first
// i symbols matched"; all live states advance together on each input byte,
// so a match costs O(len(input)) word operations and never backtracks, even
// for patterns like "*a*a*a*b" that make a backtracking matcher exponential.
type Glob struct {
	src   string
	n     int        // symbols; state n accepts
	words int        // words of stateSet in use
	star  stateSet   // positions holding '*'
	any   stateSet   // positions holding '?'
	slot  [256]uint8 // input byte -> 1 + index into lit; 0: not in the pattern
	lit   []stateSet // positions holding each literal byte
}

// Compile compiles a case-insensitive pattern on a whole string: '*'
// matches any run of bytes, '?' exactly one byte. Letters match either case.
func Compile(pattern string) (*Glob, error) {
	var syms []byte
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c <= ' ' || c == 0x7f {
			return nil, errors.New("pattern contains whitespace or a control byte")
		}
		if c == '*' && len(syms) > 0 && syms[len(syms)-1] == '*' {
			continue // "**" is "*"
		}
		syms = append(syms, lower(c))
	}
	if len(syms) > maxGlob {
		return nil, errors.New("pattern longer than 255 symbols")
	}
	g := &Glob{src: pattern, n: len(syms), words: len(syms)/64 + 1}
	for i, c := range syms {
		switch c {
		case '*':
			g.star.add(i)
		case '?':
			g.any.add(i)
		default:
			k := g.slot[c]
			if k == 0 {
				g.lit = append(g.lit, stateSet{})
				k = uint8(len(g.lit))
				g.slot[c] = k
				g.slot[upper(c)] = k
			}
			g.lit[k-1].add(i)
		}
	}
	return g, nil
}

// closure adds the state after every live '*': a star may match nothing.
// Runs of stars are collapsed, so one step is enough.
func (g *Glob) closure(s stateSet) stateSet {
	return s.or(s.and(g.star, g.words).next(g.words), g.words)
}

// match reports whether the whole of s matches the pattern.
func (g *Glob) Match(s string) bool {
	if g.words == 1 {
		return g.match1(s)
	}
	w := g.words
	var live stateSet
	live.add(0)
	live = g.closure(live)
	for i := 0; i < len(s); i++ {
		step := g.any
		if k := g.slot[s[i]]; k != 0 {
			step = step.or(g.lit[k-1], w)
		}
		// Literal and '?' positions that accept this byte advance; '*'
		// positions stay where they are.
		live = g.closure(live.and(step, w).next(w).or(live.and(g.star, w), w))
		if live.empty(w) {
			return false
		}
	}
	return live.has(g.n)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// match1 is match for patterns of fewer than 64 symbols, the usual case: the
// state set is one machine word.
func (g *Glob) match1(s string) bool {
	star, anyPos := g.star[0], g.any[0]
	live := uint64(1)
	live |= (live & star) << 1
	for i := 0; i < len(s); i++ {
		step := anyPos
		if k := g.slot[s[i]]; k != 0 {
			step |= g.lit[k-1][0]
		}
		live = (live&step)<<1 | live&star
		live |= (live & star) << 1
		if live == 0 {
			return false
		}
	}
	return live&(1<<g.n) != 0
}

// String returns the pattern as written.
func (g *Glob) String() string { return g.src }

// Lower lower-cases ASCII letters only, the case folding patterns use, so
// plugins key addresses the same way; bytes that are not UTF-8 are kept as
// they are (strings.ToLower would replace them).
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lower(b[j])
			}
			return string(b)
		}
	}
	return s
}
