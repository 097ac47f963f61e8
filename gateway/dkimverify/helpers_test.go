package dkimverify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sluice-mail/sluice/gateway/dkimcanon"
	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/message"
)

// keyDir holds the signing keys of gateway/dkimsign's tests.
var keyDir = filepath.Join("..", "dkimsign", "testdata")

// loadKey loads a key of gateway/dkimsign's tests for d=example.com.
func loadKey(t testing.TB, file, selector string) *dkimsign.Key {
	t.Helper()
	k, err := dkimsign.LoadKey(file, "example.com", selector, filepath.Join(keyDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// record is the key record of a public key; pkcs1 writes an RSA key as
// RSAPublicKey instead of SubjectPublicKeyInfo.
func record(t testing.TB, pub crypto.PublicKey, pkcs1 bool) string {
	t.Helper()
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(p)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(p)
		if pkcs1 {
			der = x509.MarshalPKCS1PublicKey(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	t.Fatalf("key type %T", pub)
	return ""
}

// rsa512Record publishes the 512-bit key of gateway/dkimsign's tests,
// read without crypto/rsa's checks (which refuse such keys).
func rsa512Record(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(keyDir, "rsa512-pkcs8.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return record(t, k.(*rsa.PrivateKey).Public(), true)
}

// zone answers key lookups; a name without records is NXDOMAIN, and a
// name listed in servfail a temporary failure.
type zone struct {
	txt      map[string][]string
	servfail map[string]bool
}

func (z zone) lookup(name string) ([]string, error) {
	if z.servfail[name] {
		return nil, &net.DNSError{Err: "temporary failure", Name: name, IsTemporary: true}
	}
	if r := z.txt[name]; len(r) > 0 {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such record", Name: name, IsNotFound: true}
}

// signSluice puts a signature made by gateway/dkimsign on top of msg.
func signSluice(t testing.TB, msg string, k *dkimsign.Key, o dkimsign.Options) string {
	t.Helper()
	m, err := message.Parse([]byte(msg), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := dkimsign.Sign(m, k, o)
	if err != nil {
		t.Fatal(err)
	}
	m.Insert(0, f)
	return string(m.Bytes())
}

// signGo puts a signature made by go-msgauth on top of msg.
func signGo(t testing.TB, msg string, o *dkim.SignOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// signTags puts a signature with the tags given on top of msg, signed
// with an Ed25519 key: "%BH%" in tags is replaced by the body hash (of
// the first l bytes of the relaxed canonical body when l >= 0), and the
// fields named in h= are taken once each, the bottom instance. It writes
// what no signer here does (l=, i=, odd tag spellings).
func signTags(t testing.TB, msg, tags string, l int64, k ed25519.PrivateKey) string {
	t.Helper()
	head, body, _ := strings.Cut(msg, "\r\n\r\n")
	bh := sha256.New()
	if err := dkimcanon.Body(context.Background(), &limitWriter{w: bh, left: l}, dkimcanon.Relaxed, []byte(body)); err != nil {
		t.Fatal(err)
	}
	tags = strings.Replace(tags, "%BH%", base64.StdEncoding.EncodeToString(bh.Sum(nil)), 1)
	fields := splitHeader([]byte(head + "\r\n\r\n")).fields
	hh := sha256.New()
	list, _ := parseTags([]byte(tags)).get("h")
	for _, name := range colonList(list) {
		for i := len(fields) - 1; i >= 0; i-- {
			if strings.EqualFold(string(fieldName(fields[i])), name) {
				hh.Write(dkimcanon.Header(nil, dkimcanon.Relaxed, fields[i]))
				break
			}
		}
	}
	self := dkimcanon.Header(nil, dkimcanon.Relaxed, []byte("DKIM-Signature: "+tags+"\r\n"))
	hh.Write(bytes.TrimSuffix(self, []byte("\r\n")))
	sig := ed25519.Sign(k, hh.Sum(nil))
	return "DKIM-Signature: " + tags + base64.StdEncoding.EncodeToString(sig) + "\r\n" + msg
}

// goClasses verifies raw with go-msgauth and classes each result as
// gateway/msgauth did with it: a header that cannot be read makes every
// signature permerror; a failure caused by l= is policy.
func goClasses(raw []byte, lookup func(string) ([]string, error), max int) []string {
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: max})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		if verifs == nil && strings.HasPrefix(err.Error(), "failed to read header") {
			// gateway/msgauth reported "none" for a message without a
			// signature before asking go-msgauth.
			for _, f := range splitHeader(raw).fields {
				if bytes.EqualFold(fieldName(f), []byte("DKIM-Signature")) {
					return []string{"header"}
				}
			}
			return []string{}
		}
		return []string{"error: " + err.Error()}
	}
	out := make([]string, len(verifs))
	for i, v := range verifs {
		switch {
		case v.Err == nil:
			out[i] = "pass"
		case dkim.IsTempFail(v.Err):
			out[i] = "temperror"
		case dkim.IsPermFail(v.Err):
			out[i] = "permerror"
		case strings.Contains(v.Err.Error(), "body length tag"):
			out[i] = "policy"
		default:
			out[i] = "fail"
		}
	}
	return out
}

// ourClasses verifies raw with Verify; a header that cannot be read is
// reported as goClasses does.
func ourClasses(raw []byte, lookup func(string) ([]string, error), max int) ([]string, []Verification) {
	vs := Verify(context.Background(), raw, Options{LookupTXT: lookup, Max: max})
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Result
	}
	if len(vs) > 0 && vs[0].Reason == reasonNoHeaderEnd {
		out = []string{"header"}
	}
	return out, vs
}
