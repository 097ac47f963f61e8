package message

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// unfold removes every CRLF that precedes whitespace (RFC 5322 §2.2.3).
func unfold(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("\r\n"), nil)
}

// hasFoldPointWithin reports whether line (a rendered line, CRLF excluded)
// has whitespace at an index <= MaxLine with a non-whitespace byte before
// it and after it, skipping the first skip bytes ("Name:" on the first
// line, whose space the value does not own).
func hasFoldPointWithin(line []byte, skip int) bool {
	seen := false
	for i := skip; i < len(line) && i <= MaxLine; i++ {
		if !isWSP(line[i]) {
			seen = true
			continue
		}
		if seen && len(bytes.TrimLeft(line[i:], " \t")) > 0 {
			return true
		}
	}
	return false
}

// checkFold asserts the folding properties for one value: the result is a
// valid value, unfolds to the same bytes, has no line over MaxLine where a
// fold point existed, leaves a value that fits unchanged and is stable.
func checkFold(t *testing.T, name, value []byte) {
	t.Helper()
	if ValidName(name) != nil || ValidValue(name, value) != nil {
		return
	}
	got := Fold(name, value)
	if err := ValidValue(name, got); err != nil {
		t.Fatalf("Fold(%q) = %q: %v", value, got, err)
	}
	if !bytes.Equal(unfold(got), unfold(value)) {
		t.Fatalf("Fold changed the unfolded value of %q: %q", value, got)
	}
	fits := true
	rendered := append(append(append([]byte(nil), name...), ": "...), got...)
	for i, line := range bytes.Split(rendered, []byte("\r\n")) {
		skip := 0
		if i == 0 {
			skip = len(name) + 2
		}
		if len(line) > MaxLine && hasFoldPointWithin(line, skip) {
			t.Fatalf("line %d of the folded %q is %d bytes with a fold point within %d", i, name, len(line), MaxLine)
		}
	}
	for _, line := range bytes.Split(append(append(append([]byte(nil), name...), ": "...), value...), []byte("\r\n")) {
		if len(line) > MaxLine {
			fits = false
		}
	}
	if fits && !bytes.Equal(got, value) {
		t.Fatalf("Fold changed %q, whose lines all fit, into %q", value, got)
	}
	if again := Fold(name, got); !bytes.Equal(again, got) {
		t.Fatalf("Fold is not stable: %q then %q", got, again)
	}
}

func TestFold(t *testing.T) {
	words := func(n, size int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = strings.Repeat(string(rune('a'+i%26)), size)
		}
		return strings.Join(w, " ")
	}
	cases := []struct {
		name, value string
		maxLine     int // the longest line expected after folding
	}{
		{"Subject", "short", 14},
		{"Subject", words(300, 9), MaxLine},                           // 3000 bytes of words
		{"Subject", "hi\r\n " + words(150, 9), MaxLine},               // a long continuation line
		{"Subject", strings.Repeat("x", 1500), 1509},                  // no fold point: kept
		{"Subject", "[EXT] " + strings.Repeat("x", 1500), 1501},       // folded after the prefix
		{"Subject", strings.Repeat("x", 1500) + " tail", 1509},        // the only fold point is late
		{"Subject", words(2, 700) + "\t" + words(2, 700), MaxLine},    // tab is whitespace too
		{"Subject", strings.Repeat("y", 990) + "     ", 1004},         // trailing blanks: no fold
		{"X-Long-Field-Name", "a " + strings.Repeat("b", 985), 986},   // folded after "a"
		{"X-Long-Field-Name", "aa " + strings.Repeat("b", 979), 1001}, // 19+982: exactly over
	}
	for _, tc := range cases {
		got := Fold([]byte(tc.name), []byte(tc.value))
		checkFold(t, []byte(tc.name), []byte(tc.value))
		longest := 0
		for _, l := range strings.Split(tc.name+": "+string(got), "\r\n") {
			longest = max(longest, len(l))
		}
		if longest > tc.maxLine {
			t.Errorf("%s: %.40q...: longest line %d, want at most %d", tc.name, tc.value, longest, tc.maxLine)
		}
	}
	// Render folds; a long line with no fold point is no error.
	f, err := Render([]byte("Subject"), []byte(words(300, 9)))
	if err != nil || bytes.Count(f.Raw, []byte("\r\n")) < 4 {
		t.Fatalf("Render: %q, %v", f.Raw, err)
	}
	if _, err := Render([]byte("Subject"), []byte(strings.Repeat("z", 5000))); err != nil {
		t.Fatalf("Render of an unfoldable value: %v", err)
	}
}

// TestFoldRandom is the property test over random values made of words,
// spaces, tabs and existing folds, around the 998-byte boundary.
func TestFoldRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 4))
	for range 3000 {
		var b []byte
		n := r.IntN(4000)
		for len(b) < n {
			switch k := r.IntN(20); {
			case k == 0 && len(b) > 0 && !isWSP(b[len(b)-1]):
				b = append(b, "\r\n "...)
			case k < 4:
				b = append(b, " \t"[r.IntN(2)])
			default:
				b = append(b, bytes.Repeat([]byte{'w'}, r.IntN(1200)*(r.IntN(2))+r.IntN(30)+1)...)
			}
		}
		name := []byte(strings.Repeat("N", 1+r.IntN(76)))
		checkFold(t, name, b)
	}
}

func FuzzFold(f *testing.F) {
	f.Add([]byte("Subject"), []byte("hello world"))
	f.Add([]byte("Subject"), []byte(strings.Repeat("ab ", 700)))
	f.Add([]byte("X"), []byte("x\r\n "+strings.Repeat("c", 1200)+" d"))
	f.Fuzz(func(t *testing.T, name, value []byte) {
		checkFold(t, name, value)
	})
}
