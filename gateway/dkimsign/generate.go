package dkimsign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// generatedRSABits is the RSA size GenerateKey makes (RFC 8301 §3.2
// recommends at least 2048 bits).
const generatedRSABits = 2048

// GenerateKey makes a new key: algorithm "ed25519" or "rsa" (2048 bits). It returns the private key
// as PKCS#8 PEM and the DNS TXT record value to publish at SELECTOR._domainkey.DOMAIN
// ("v=DKIM1; k=ed25519; p=BASE64").
func GenerateKey(algorithm string) (pemBytes []byte, txt string, err error) {
	var priv crypto.Signer
	var pub []byte
	switch algorithm {
	case "ed25519":
		p, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, "", fmt.Errorf("dkimsign: generating key: %w", err)
		}
		priv, pub = k, p // RFC 8463 §4.2: p= is the raw 32-byte public key
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, generatedRSABits)
		if err != nil {
			return nil, "", fmt.Errorf("dkimsign: generating key: %w", err)
		}
		// RFC 6376 §3.6.1: p= carries the DER public key; the
		// SubjectPublicKeyInfo form is what verifiers expect.
		pub, err = x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return nil, "", fmt.Errorf("dkimsign: encoding public key: %w", err)
		}
		priv = k
	default:
		return nil, "", fmt.Errorf("dkimsign: unknown key algorithm %q (want ed25519 or rsa)", algorithm)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, "", fmt.Errorf("dkimsign: encoding private key: %w", err)
	}
	pemBytes = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	txt = "v=DKIM1; k=" + algorithm + "; p=" + base64.StdEncoding.EncodeToString(pub)
	return pemBytes, txt, nil
}
