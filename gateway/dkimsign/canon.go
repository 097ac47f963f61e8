package dkimsign

import "github.com/sluice-mail/sluice/gateway/dkimcanon"

// ValidCanonicalization reports whether s is a canonicalization
// Options.Canonicalization accepts: "", "relaxed", "simple" or
// "header/body" with each of relaxed and simple (sdk/ABI.md §4.10).
func ValidCanonicalization(s string) bool {
	_, _, ok := parseCanonicalization(s)
	return ok
}

// parseCanonicalization reads the c= form "header/body"; a single word
// applies to both (an option shorthand: in a c= tag a lone word means
// word/simple, so the tag is always written in full). "" is relaxed/relaxed.
func parseCanonicalization(s string) (header, body dkimcanon.Canon, ok bool) {
	const relaxed, simple = dkimcanon.Relaxed, dkimcanon.Simple
	switch s {
	case "", "relaxed", "relaxed/relaxed":
		return relaxed, relaxed, true
	case "relaxed/simple":
		return relaxed, simple, true
	case "simple", "simple/simple":
		return simple, simple, true
	case "simple/relaxed":
		return simple, relaxed, true
	}
	return 0, 0, false
}

var crlf = []byte("\r\n")
