package dkimsign

import (
	"crypto/ed25519"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

func TestGenerateKey(t *testing.T) {
	for alg, want := range map[string]string{"ed25519": AlgorithmEd25519, "rsa": AlgorithmRSA} {
		pemBytes, txt, err := GenerateKey(alg)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !strings.HasPrefix(string(pemBytes), "-----BEGIN PRIVATE KEY-----\n") {
			t.Errorf("%s: not PKCS#8 PEM: %.40q", alg, pemBytes)
		}
		if !strings.HasPrefix(txt, "v=DKIM1; k="+alg+"; p=") {
			t.Errorf("%s: TXT %q", alg, txt)
		}
		signer, got, err := ParseKey(pemBytes)
		if err != nil || got != want {
			t.Fatalf("%s: ParseKey: %v, %q", alg, err, got)
		}
		switch k := signer.(type) {
		case *rsa.PrivateKey:
			if k.N.BitLen() != 2048 {
				t.Errorf("RSA key has %d bits", k.N.BitLen())
			}
		case ed25519.PrivateKey:
		default:
			t.Errorf("%s: key type %T", alg, signer)
		}
		// The TXT record publishes this key: a signature verifies with it.
		k := &Key{Domain: "example.org", Selector: "gen", Signer: signer, Algorithm: got}
		m, _ := message.Parse([]byte(plainMsg), message.Limits{})
		f, err := Sign(m, k, Options{})
		if err != nil {
			t.Fatal(err)
		}
		m.Insert(0, f)
		if err := verifyGoTXT(t, m.Bytes(), recordName(k), txt); err != nil {
			t.Errorf("%s: signature does not verify with the generated TXT record: %v", alg, err)
		}
	}
	// Two calls give two keys.
	a, _, _ := GenerateKey("ed25519")
	b, _, _ := GenerateKey("ed25519")
	if string(a) == string(b) {
		t.Error("GenerateKey returned the same key twice")
	}
	for _, bad := range []string{"", "RSA", "ecdsa", "ed25519-sha256"} {
		if _, _, err := GenerateKey(bad); err == nil {
			t.Errorf("algorithm %q accepted", bad)
		}
	}
}
