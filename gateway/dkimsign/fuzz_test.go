package dkimsign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

// FuzzParseKey: ParseKey never panics, and what it accepts is a usable
// Ed25519 or RSA (1024 to 8192 bits) key with the matching algorithm.
func FuzzParseKey(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.pem"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, alg, err := ParseKey(b)
		if err != nil {
			if s != nil || alg != "" {
				t.Fatalf("error %v with a key", err)
			}
			return
		}
		switch k := s.(type) {
		case ed25519.PrivateKey:
			if alg != AlgorithmEd25519 || len(k) != ed25519.PrivateKeySize {
				t.Fatalf("ed25519 key: alg %q, %d bytes", alg, len(k))
			}
		case *rsa.PrivateKey:
			if alg != AlgorithmRSA || k.N.BitLen() < 1024 || k.N.BitLen() > 8192 {
				t.Fatalf("RSA key: alg %q, %d bits", alg, k.N.BitLen())
			}
		default:
			t.Fatalf("key type %T", s)
		}
	})
}

// FuzzSign: for any message bytes Parse accepts, Sign never panics; it
// either refuses (a *Refusal: the key is valid, so nothing else may fail)
// or returns a field within the line limits whose signature go-msgauth
// verifies on the message as rendered with the field on top.
func FuzzSign(f *testing.F) {
	for _, m := range []string{plainMsg, trickyMsg,
		"From: a@example.com\r\n\r\n",
		"From: a@example.com",
		"From: a@example.com\r\nSubject: x\r\nbody without separator",
		"From : a@example.com\r\nDKIM-Signature: v=1; d=x.example; s=y; b=\r\n\r\nx\r\n",
		"From: a@example.com\nSubject: bare LF\r\n\r\n",
		"From: a\r\n \r\n\r\n \t \r\n\r\n",
	} {
		for canon := range byte(len(canonicalizations)) {
			f.Add([]byte(m), canon, false)
			f.Add([]byte(m), canon, true)
		}
	}
	k := &Key{
		Domain:   "example.com",
		Selector: "fuzz",
		Signer:   ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)),
	}
	f.Fuzz(func(t *testing.T, raw []byte, canon byte, allHeaders bool) {
		m, err := message.Parse(raw, message.Limits{})
		if err != nil {
			return
		}
		o := Options{Canonicalization: canonicalizations[int(canon)%len(canonicalizations)]}
		if allHeaders {
			// Sign every name present that the list syntax allows.
			o.Headers = []string{"From"}
			for _, fld := range m.Fields {
				if message.ValidName([]byte(fld.Name)) == nil && !strings.ContainsAny(fld.Name, ";=") {
					o.Headers = append(o.Headers, fld.Name)
				}
			}
		}
		field, err := Sign(m, k, o)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("internal error: %v", err)
			}
			for _, c := range []byte(r.Reason) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("reason not printable ASCII: %q", r.Reason)
				}
			}
			return
		}
		for _, line := range bytes.Split(field.Raw, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("signature line of %d bytes", len(line))
			}
		}
		signed := m.Clone()
		signed.Insert(0, field)
		if err := verifyGo(t, signed.Bytes(), k); err != nil {
			t.Fatalf("signature does not verify: %v\n%q", err, signed.Bytes())
		}
	})
}
