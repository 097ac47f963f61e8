package msgauth

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkCheckDKIM1MiB verifies one relaxed/relaxed ed25519 signature
// over a 1 MiB body (the body hash dominates).
func BenchmarkCheckDKIM1MiB(b *testing.B) {
	keys := testKeys()
	res := newStatic()
	res.set("TXT", "brisbane._domainkey.football.example.com", keyRecord(b, keys.ed))
	line := "We lost the game.  Are you hungry yet?\tJoe. \r\n"
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
