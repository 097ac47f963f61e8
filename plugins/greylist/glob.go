package main

import (
	"errors"
	"strings"
)

// glob is a case-insensitive (ASCII) pattern on a whole string: '*' matches
// any run of bytes, '?' exactly one byte.
type glob struct {
	src, pat string // pat is src lower-cased
}

func compileGlob(s string) (glob, error) {
	if s == "" {
		return glob{}, errors.New("empty pattern")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return glob{}, errors.New("pattern contains whitespace")
	}
	return glob{src: s, pat: lower(s)}, nil
}

// match reports whether s matches. Greedy matching with one backtrack
// point: at most len(pat)*len(s) steps, whatever the input.
func (g glob) match(s string) bool {
	s = lower(s)
	p := g.pat
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// lower lower-cases ASCII letters only; other bytes, UTF-8 or not, are kept.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
