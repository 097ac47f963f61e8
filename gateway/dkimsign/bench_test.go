package dkimsign

import (
	"bytes"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

// benchBody is 1 MiB of text lines; gateway/dkimcanon measures the body
// forms on bodies of every shape.
func benchBody() []byte {
	line := "the gateway signs a message  body of mail\tin relaxed canonical form \r\n"
	return bytes.Repeat([]byte(line), (1<<20)/len(line))
}

// A whole signature over a 1 MiB message (ed25519, relaxed/relaxed).
func BenchmarkSign1MiB(b *testing.B) {
	raw := append([]byte("From: a@example.com\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n"), benchBody()...)
	m, err := message.Parse(raw, message.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	k := testKey(b, "ed25519-pkcs8.pem")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Sign(m, k, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
