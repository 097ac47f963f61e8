package dkimverify

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
)

// key is a parsed DKIM key record (RFC 6376 §3.6.1, RFC 8463 §4).
type key struct {
	algorithm string           // k=: "rsa" or "ed25519"
	public    crypto.PublicKey // *rsa.PublicKey or ed25519.PublicKey
	hashes    []string         // h=: acceptable hash algorithms; nil means any
	services  []string         // s=: service types; nil means any ("*" or absent)
	strict    bool             // t=s: i= must be in d= itself, not a subdomain
	testing   bool             // t=y: the domain is testing DKIM
}

// minRSABits: RFC 8301 §3.2, verifiers must not accept smaller RSA keys.
const minRSABits = 1024

// parseKey reads a key record. A failure is a permerror verdict.
func parseKey(rec string) (*key, *verdict) {
	l := parseTags([]byte(rec))
	if l.err != nil {
		return nil, permerror("key record error: %v", l.err)
	}
	if v, ok := l.get("v"); ok && v != "DKIM1" {
		return nil, permerror("incompatible public key version")
	}
	p, ok := l.get("p")
	if !ok {
		return nil, permerror("key syntax error: missing public key data")
	}
	if p == "" {
		return nil, permerror("key revoked")
	}
	der, err := base64.StdEncoding.DecodeString(stripSpace(p))
	if err != nil {
		return nil, permerror("key syntax error: %v", err)
	}
	k := &key{}
	switch alg, _ := l.get("k"); alg {
	case "rsa", "":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// RFC 6376 §3.6.1 says SubjectPublicKeyInfo, its example and
			// erratum 3017 RSAPublicKey: both are deployed.
			pub, err = x509.ParsePKCS1PublicKey(der)
			if err != nil {
				return nil, permerror("key syntax error: %v", err)
			}
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, permerror("key syntax error: not an RSA public key")
		}
		if bits := rk.Size() * 8; bits < minRSABits {
			return nil, permerror("key is too short: want %d bits, has %d bits", minRSABits, bits)
		}
		k.algorithm, k.public = "rsa", rk
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, permerror("invalid Ed25519 public key size: %d bytes", len(der))
		}
		k.algorithm, k.public = "ed25519", ed25519.PublicKey(der)
	default:
		return nil, permerror("unsupported key algorithm")
	}
	if h, ok := l.get("h"); ok {
		k.hashes = colonList(h)
	}
	if s, ok := l.get("s"); ok {
		if services := colonList(s); !slices.Contains(services, "*") {
			k.services = services
		}
	}
	if t, ok := l.get("t"); ok {
		flags := colonList(t)
		k.strict = slices.Contains(flags, "s")
		k.testing = slices.Contains(flags, "y")
	}
	return k, nil
}

// verdict is the outcome of verifying one signature when it is not a
// pass: a result class of RFC 8601 §2.7.1 and why.
type verdict struct {
	result, reason string
}

func permerror(format string, args ...any) *verdict {
	return &verdict{"permerror", fmt.Sprintf(format, args...)}
}

func temperror(format string, args ...any) *verdict {
	return &verdict{"temperror", fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) *verdict {
	return &verdict{"fail", fmt.Sprintf(format, args...)}
}
