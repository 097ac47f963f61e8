package msgauth

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkCheckDKIM1MiB verifies one relaxed/relaxed ed25519 signature
// over a 1 MiB body (the body hash dominates) whose every line relaxed
// canonicalization changes three times: the worst case.
func BenchmarkCheckDKIM1MiB(b *testing.B) {
	benchCheckDKIM(b, "We lost the game.  Are you hungry yet?\tJoe. \r\n")
}

// BenchmarkCheckDKIM1MiBBase64: the same over base64 lines (an
// attachment), which relaxed canonicalization leaves as they are.
func BenchmarkCheckDKIM1MiBBase64(b *testing.B) {
	benchCheckDKIM(b, "V2UgbG9zdCB0aGUgZ2FtZS4gIEFyZSB5b3UgaHVuZ3J5IHlldD8JSm9lLiBXZSBsb3N0IHRoZSBn\r\n")
}

func benchCheckDKIM(b *testing.B, line string) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "brisbane._domainkey.football.example.com", keyRecord(b, keys.ed))
	body := strings.Repeat(line, (1<<20)/len(line))
	raw := []byte(sign(b, strings.SplitAfter(testMessage, "\r\n\r\n")[0]+body, "football.example.com", "brisbane", keys.ed))
	lookup := func(name string) ([]string, error) { return res.Lookup(context.Background(), "TXT", name) }
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if r := checkDKIM(context.Background(), raw, 5, lookup); r[0].Result != "pass" {
			b.Fatal(r)
		}
	}
}
