package dkimcanon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"math/rand"
	"testing"
)

// benchBody is about size bytes of mail body: half prose lines (single
// spaces, now and then a double space or a tab, and a space at the end of
// every line, as format=flowed text has: relaxed changes every one of
// them), then base64 lines, every line CRLF-terminated, and two empty
// lines at the end.
func benchBody(size int) []byte {
	r := rand.New(rand.NewSource(1))
	words := []string{"the", "gateway", "signs", "a", "message", "body", "of", "mail", "relaxed", "canonical", "form"}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b bytes.Buffer
	for b.Len() < size/2 {
		n := 0
		for n < 70 {
			w := words[r.Intn(len(words))]
			b.WriteString(w)
			n += len(w) + 1
			switch r.Intn(40) {
			case 0:
				b.WriteString("  ")
			case 1:
				b.WriteString("\t")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString("\r\n")
	}
	for b.Len() < size {
		for i := 0; i < 76; i++ {
			b.WriteByte(b64[r.Intn(64)])
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

// base64Body is size bytes of 76-character base64 lines: an attachment,
// which relaxed canonicalization leaves as it is.
func base64Body(size int) []byte {
	b := benchBody(2 * size)
	i := bytes.LastIndex(b[:len(b)/2], crlf) + 2 // where the base64 lines begin
	return b[i:]
}

func benchCanon(b *testing.B, c Canon) { benchCanonBody(b, c, benchBody(1<<20)) }

func benchCanonBody(b *testing.B, c Canon, body []byte) {
	h := sha256.New()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Reset()
		if err := Body(context.Background(), h, c, body); err != nil {
			b.Fatal(err)
		}
	}
}

// The body hash of a 1 MiB body, relaxed and simple, against SHA-256 alone
// over the same bytes: canonicalization should cost little beyond the hash.
func BenchmarkBodyHashRelaxed(b *testing.B) { benchCanon(b, Relaxed) }
func BenchmarkBodyHashSimple(b *testing.B)  { benchCanon(b, Simple) }
func BenchmarkBodyHashRelaxedBase64(b *testing.B) {
	benchCanonBody(b, Relaxed, base64Body(1<<20))
}

func BenchmarkSHA256(b *testing.B) {
	body := benchBody(1 << 20)
	h := sha256.New()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		h.Reset()
		h.Write(body)
	}
}
