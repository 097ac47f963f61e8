// Package dkimsign holds DKIM private keys and signs messages with them (RFC 6376, RFC 8463 ed25519).
package dkimsign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/sluice-mail/sluice/gateway/internal/boundedfile"
)

// Signature algorithms (RFC 6376 §3.3, RFC 8463 §3).
const (
	AlgorithmEd25519 = "ed25519-sha256"
	AlgorithmRSA     = "rsa-sha256"
)

// RSA key size bounds. RFC 8301 §3.2: signers MUST use at least 1024 bits.
// The upper bound keeps signing time and the DNS record reasonable.
const (
	minRSABits = 1024
	maxRSABits = 8192
)

// maxKeyFileBytes bounds what LoadKey reads: a PEM 8192-bit RSA key is about 6.5 KB.
const maxKeyFileBytes = 64 << 10

// Key is a named DKIM signing key: the private key and where its public half
// is published (SELECTOR._domainkey.DOMAIN, RFC 6376 §3.6.2.1).
type Key struct {
	Name, Domain, Selector string
	Signer                 crypto.Signer // ed25519.PrivateKey or *rsa.PrivateKey
	Algorithm              string        // "ed25519-sha256" or "rsa-sha256"
}

// LoadKey reads a PEM private key file: PKCS#8 ("PRIVATE KEY", ed25519 or RSA) or PKCS#1
// ("RSA PRIVATE KEY"). RSA keys under 1024 bits are refused (RFC 8301 §3.2). Errors name the file and
// the problem, never key material. Domain and selector are validated (domain name syntax; selector
// = dot-separated labels, RFC 6376 §3.1).
func LoadKey(name, domain, selector, path string) (*Key, error) {
	if err := validDomain(domain); err != nil {
		return nil, fmt.Errorf("dkim key %q: domain %q: %w", name, domain, err)
	}
	if err := validSelector(selector, domain); err != nil {
		return nil, fmt.Errorf("dkim key %q: selector %q: %w", name, selector, err)
	}
	b, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("dkim key %q: %s: %w", name, path, err)
	}
	signer, alg, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("dkim key %q: %s: %w", name, path, err)
	}
	return &Key{Name: name, Domain: domain, Selector: selector, Signer: signer, Algorithm: alg}, nil
}

// readKeyFile reads a regular file of at most maxKeyFileBytes (a device or
// FIFO is refused before it is read). Its errors carry no file content (os
// errors name only the operation and path, which the caller adds).
func readKeyFile(path string) ([]byte, error) {
	b, err := boundedfile.Read(path, maxKeyFileBytes)
	if err != nil {
		return nil, errors.New(osProblem(err))
	}
	return b, nil
}

func osProblem(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "file does not exist"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "cannot open file"
}

// ParseKey parses PEM bytes as LoadKey does.
func ParseKey(pemBytes []byte) (crypto.Signer, string /*algorithm*/, error) {
	block, err := findKeyBlock(pemBytes)
	if err != nil {
		return nil, "", err
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			// x509 errors can describe ASN.1 contents; give a fixed text.
			return nil, "", errors.New("PRIVATE KEY block is not a valid PKCS#8 private key")
		}
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, "", errors.New("RSA PRIVATE KEY block is not a valid PKCS#1 RSA private key")
		}
	}
	return checkKey(key)
}

// findKeyBlock returns the one private key block in b. Other blocks (for
// example a certificate) are ignored; two private keys are ambiguous.
func findKeyBlock(b []byte) (*pem.Block, error) {
	var found *pem.Block
	for {
		block, rest := pem.Decode(b)
		if block == nil {
			break
		}
		b = rest
		switch block.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY":
			if len(block.Headers) != 0 {
				return nil, errors.New("encrypted PEM private keys are not supported")
			}
			if found != nil {
				return nil, errors.New("more than one private key in PEM data")
			}
			found = block
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM private keys are not supported")
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY":
			return nil, fmt.Errorf("unsupported key type %q: DKIM keys are RSA or Ed25519", block.Type)
		}
	}
	if found == nil {
		return nil, errors.New(`no "PRIVATE KEY" or "RSA PRIVATE KEY" PEM block`)
	}
	return found, nil
}

func checkKey(key any) (crypto.Signer, string, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, "", errors.New("malformed Ed25519 private key")
		}
		return k, AlgorithmEd25519, nil
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits < minRSABits {
			return nil, "", fmt.Errorf("RSA key has %d bits; at least %d are required (RFC 8301 §3.2)", bits, minRSABits)
		}
		if bits > maxRSABits {
			return nil, "", fmt.Errorf("RSA key has %d bits; at most %d are supported", bits, maxRSABits)
		}
		return k, AlgorithmRSA, nil
	default:
		return nil, "", fmt.Errorf("unsupported key type %T: DKIM keys are RSA or Ed25519", key)
	}
}

// algorithmOf returns the DKIM algorithm for a signer's public key.
func algorithmOf(s crypto.Signer) (string, error) {
	switch p := s.Public().(type) {
	case ed25519.PublicKey:
		return AlgorithmEd25519, nil
	case *rsa.PublicKey:
		if p.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", p.N.BitLen(), minRSABits)
		}
		return AlgorithmRSA, nil
	default:
		return "", fmt.Errorf("unsupported key type %T", s.Public())
	}
}
