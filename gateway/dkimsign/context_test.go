package dkimsign

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/dkimcanon"
	"github.com/sluice-mail/sluice/gateway/message"
)

// endsAfter is a context whose Err is nil for the first n looks, then
// Canceled: it ends while the body is being hashed.
type endsAfter struct {
	context.Context
	n int
}

func (c *endsAfter) Err() error {
	if c.n > 0 {
		c.n--
		return nil
	}
	return context.Canceled
}

// SignContext stops hashing a large body once its context has ended, for
// both body canonicalizations; a body within one chunk is signed.
func TestSignContextStopsHashing(t *testing.T) {
	k := testKey(t, "ed25519-pkcs8.pem")
	parse := func(body string) *message.Message {
		m, err := message.Parse([]byte("From: a@example.com\r\n\r\n"+body), message.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	big := parse(strings.Repeat("a  line\t of text \r\n", 4*dkimcanon.Chunk/19))
	small := parse("short\r\n")
	for _, c := range []string{"relaxed/relaxed", "relaxed/simple"} {
		_, err := SignContext(&endsAfter{Context: context.Background(), n: 1}, big, k, Options{Canonicalization: c})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: large body under an ending context: %v, want context.Canceled", c, err)
		}
		if _, err := SignContext(&endsAfter{Context: context.Background(), n: 1}, small, k, Options{Canonicalization: c}); err != nil {
			t.Errorf("%s: small body: %v", c, err)
		}
	}
}
