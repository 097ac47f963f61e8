package dkimsign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	cases := []struct {
		file string
		alg  string
		bits int // RSA modulus size
	}{
		{"ed25519-pkcs8.pem", AlgorithmEd25519, 0},
		{"rsa2048-pkcs8.pem", AlgorithmRSA, 2048},
		{"rsa2048-pkcs1.pem", AlgorithmRSA, 2048},
		{"rsa1024-pkcs1.pem", AlgorithmRSA, 1024},
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		s, alg, err := ParseKey(b)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if alg != c.alg {
			t.Errorf("%s: algorithm %q, want %q", c.file, alg, c.alg)
		}
		switch k := s.(type) {
		case ed25519.PrivateKey:
			if c.bits != 0 {
				t.Errorf("%s: got an Ed25519 key", c.file)
			}
		case *rsa.PrivateKey:
			if k.N.BitLen() != c.bits {
				t.Errorf("%s: %d bits, want %d", c.file, k.N.BitLen(), c.bits)
			}
		default:
			t.Errorf("%s: key type %T", c.file, s)
		}
	}
}

func TestParseKeyRefusals(t *testing.T) {
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ed := read("ed25519-pkcs8.pem")
	cases := []struct {
		name, pem, want string
	}{
		{"RSA 512", read("rsa512-pkcs8.pem"), "512 bits"},
		{"ECDSA", read("ec-p256-pkcs8.pem"), "unsupported key type"},
		{"encrypted PKCS#8", read("ed25519-encrypted.pem"), "encrypted"},
		{"legacy encrypted", strings.Replace(read("rsa1024-pkcs1.pem"), "KEY-----\n", "KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n", 1), "encrypted"},
		{"two keys", ed + read("rsa2048-pkcs8.pem"), "more than one private key"},
		{"no PEM", "not a key", "no \"PRIVATE KEY\""},
		{"empty", "", "no \"PRIVATE KEY\""},
		{"public key only", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n", "no \"PRIVATE KEY\""},
		{"garbage DER", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a valid PKCS#8"},
		{"PKCS#8 labelled PKCS#1", strings.ReplaceAll(ed, "PRIVATE KEY", "RSA PRIVATE KEY"), "not a valid PKCS#1"},
		{"OpenSSH", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "unsupported key type"},
	}
	for _, c := range cases {
		_, _, err := ParseKey([]byte(c.pem))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to contain %q", c.name, err, c.want)
		}
	}
	// Text around the PEM block and other blocks are ignored.
	if _, _, err := ParseKey([]byte("comment\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + ed + "trailer\n")); err != nil {
		t.Errorf("key with surrounding text: %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	k, err := LoadKey("main", "Example.COM", "s2024.mail", filepath.Join("testdata", "rsa2048-pkcs1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "main" || k.Domain != "Example.COM" || k.Selector != "s2024.mail" || k.Algorithm != AlgorithmRSA || k.Signer == nil {
		t.Errorf("key %+v", k)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "rsa512-pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	weak := filepath.Join(dir, "weak.pem")
	if err := os.WriteFile(weak, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), maxKeyFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join("testdata", "ed25519-pkcs8.pem")
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name, domain, selector, path string
		want                         []string
	}{
		{"missing file", "example.com", "sel", missing, []string{missing, "does not exist"}},
		{"weak key", "example.com", "sel", weak, []string{weak, "512 bits"}},
		{"too big", "example.com", "sel", big, []string{big, "larger than"}},
		{"directory", "example.com", "sel", dir, []string{dir}},
		{"device", "example.com", "sel", "/dev/zero", []string{"/dev/zero", "not a regular file"}},
		{"bad domain", "example", "sel", good, []string{"domain", "two labels"}},
		{"bad selector", "example.com", "sel_1", good, []string{"selector", "letters, digits"}},
	}
	for _, c := range cases {
		_, err := LoadKey("k", c.domain, c.selector, c.path)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
		// No key material: no line of the PEM body appears in the error.
		for _, line := range strings.Split(string(keyPEM), "\n") {
			if len(line) > 8 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
				t.Errorf("%s: error contains key material", c.name)
			}
		}
	}
}

func TestNameValidation(t *testing.T) {
	goodDomains := []string{"example.com", "a.b", "mail-1.example.co.uk", "XN--bcher-kva.example", "1.2.3.4.in-addr.arpa", strings.Repeat("a", 63) + ".com"}
	badDomains := []string{"", "com", "example.com.", ".example.com", "exa mple.com", "ex_ample.com", "-example.com", "example-.com", "a..b", strings.Repeat("a", 64) + ".com", strings.Repeat("abcdefghi.", 26) + "com", "bücher.example"}
	for _, d := range goodDomains {
		if err := validDomain(d); err != nil {
			t.Errorf("domain %q: %v", d, err)
		}
	}
	for _, d := range badDomains {
		if err := validDomain(d); err == nil {
			t.Errorf("domain %q accepted", d)
		}
	}
	goodSelectors := []string{"sel", "s2024", "2024", "a.b.c", "brisbane-1"}
	badSelectors := []string{"", "_sel", "sel.", ".sel", "s el", "s;el", "s=el", "sel-", strings.Repeat("s", 64), strings.Repeat("s.", 120) + "s"}
	for _, s := range goodSelectors {
		if err := validSelector(s, "example.com"); err != nil {
			t.Errorf("selector %q: %v", s, err)
		}
	}
	for _, s := range badSelectors {
		if err := validSelector(s, "example.com"); err == nil {
			t.Errorf("selector %q accepted", s)
		}
	}
}
