package glob

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*@spam.example", "bob@spam.example", true},
		{"*@spam.example", "BOB@SPAM.Example", true},
		{"*@spam.example", "bob@spam.example.org", false},
		{"*@spam.example", "bob@notspam.example", false},
		{"*@*.spam.example", "bob@mx.spam.example", true},
		{"*@*.spam.example", "bob@spam.example", false},
		{"user?@example.org", "user1@example.org", true},
		{"user?@example.org", "user@example.org", false},
		{"user?@example.org", "user12@example.org", false},
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything@at.all", true},
		{"***", "x", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 254), false},
		{"caf\xe9@example.org", "caf\xe9@EXAMPLE.org", true},
		{"caf\xe9@example.org", "caf\xc9@example.org", false}, // only ASCII folds
	}
	for _, tt := range tests {
		g, err := Compile(tt.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.pattern, err)
		}
		if got := g.Match(tt.s); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// refMatch is an obviously correct (and exponential) matcher.
func refMatch(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		return refMatch(p[1:], s) || (s != "" && refMatch(p, s[1:]))
	case '?':
		return s != "" && refMatch(p[1:], s[1:])
	}
	return s != "" && lower(p[0]) == lower(s[0]) && refMatch(p[1:], s[1:])
}

func TestGlobAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abAB*?@."
	randString := func(n int, withWild bool) string {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			c := alphabet[rng.IntN(len(alphabet))]
			for !withWild && (c == '*' || c == '?') {
				c = alphabet[rng.IntN(len(alphabet))]
			}
			b[i] = c
		}
		return string(b)
	}
	for range 20000 {
		p, s := randString(8, true), randString(12, false)
		g, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := refMatch(p, s)
		if got := g.Match(s); got != want {
			t.Fatalf("%q matches %q = %v, reference says %v", p, s, got, want)
		}
		// The same pattern through the multi-word code path.
		wide := *g
		wide.words = 3
		if got := wide.Match(s); got != want {
			t.Fatalf("multi-word: %q matches %q = %v, reference says %v", p, s, got, want)
		}
	}
}

func TestGlobLongPatterns(t *testing.T) {
	// Patterns spanning several state words.
	long := strings.Repeat("ab", 100) + "*" + strings.Repeat("?", 50) // 251 symbols
	g, err := Compile(long)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Repeat("AB", 100) + "xyz" + strings.Repeat("q", 50)
	if !g.Match(s) {
		t.Fatal("long pattern does not match")
	}
	if short := s[:200] + strings.Repeat("q", 49); g.Match(short) {
		t.Fatal("long pattern matches a string one byte too short")
	}
	if _, err := Compile(strings.Repeat("a", 256)); err == nil {
		t.Fatal("a 256-symbol pattern compiled")
	}
	if _, err := Compile(strings.Repeat("*", 1000) + "a"); err != nil {
		t.Fatalf("collapsed stars: %v", err)
	}
	if _, err := Compile("a b"); err == nil {
		t.Fatal("a pattern with a space compiled")
	}
}

func TestGlobDoesNotAllocate(t *testing.T) {
	g, _ := Compile("*@*.spam.example")
	s := strings.Repeat("x", 200) + "@mx.spam.example"
	if n := testing.AllocsPerRun(100, func() { g.Match(s) }); n != 0 {
		t.Fatalf("match allocates %v times", n)
	}
}

func BenchmarkGlob(b *testing.B) {
	g, _ := Compile("*@*.spam.example")
	s := "someone.with.a.long.name@mail.example.org"
	for b.Loop() {
		g.Match(s)
	}
}
