// Package dkimverify verifies DKIM signatures (RFC 6376 §6; ed25519-sha256,
// RFC 8463; rsa-sha1 refused, RFC 8301) with the canonicalizer the signer
// uses (gateway/dkimcanon), so a body is hashed at close to memory speed
// and each body form is hashed once for all the signatures that share it.
package dkimverify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimcanon"
)

// Options configure Verify.
type Options struct {
	// LookupTXT returns the TXT records at a name, one string per record.
	// An error that is a *net.DNSError with IsNotFound means there is no
	// record (permerror); any other error is temporary (temperror).
	LookupTXT func(name string) ([]string, error)
	// Max is the number of signatures verified, the topmost first
	// (RFC 6376 §6.1 lets a verifier limit it); 0 means all.
	Max int
	// Now is the time x= is compared with; zero means time.Now().
	Now time.Time
}

// Verification is the outcome for one DKIM-Signature field.
type Verification struct {
	// Result is pass, fail, policy, temperror or permerror (RFC 8601
	// §2.7.1); Reason says why when it is not pass.
	Result, Reason string
	// The tags that identify the signature, as written (whitespace
	// removed; the first of a repeated tag), also when it is malformed:
	// d=, s=, i=, a= and the whole of b=.
	Domain, Selector, Identifier, Algorithm, Signature string
}

// Reasons shared by every signature of a message.
const (
	reasonNoHeaderEnd = "message header could not be read"
	reasonDeadline    = "verification stopped at the deadline"
)

// Verify verifies the DKIM-Signature fields of the message raw, in header
// order, and returns one Verification per field verified (none without a
// signature). A header without an empty line after it makes every
// signature permerror. Hashing a large body stops once ctx has ended:
// every signature is then temperror.
func Verify(ctx context.Context, raw []byte, o Options) []Verification {
	h := splitHeader(raw)
	var sigs [][]byte
	for _, f := range h.fields {
		if o.Max > 0 && len(sigs) == o.Max {
			break
		}
		if bytes.EqualFold(fieldName(f), []byte("DKIM-Signature")) {
			sigs = append(sigs, f)
		}
	}
	if len(sigs) == 0 {
		return nil
	}
	v := &verifier{ctx: ctx, h: h, o: o}
	if v.o.Now.IsZero() {
		v.o.Now = time.Now()
	}
	out := make([]Verification, len(sigs))
	tags := make([]tagList, len(sigs))
	for i, f := range sigs {
		tags[i] = parseTags(fieldValue(f))
		out[i] = describe(tags[i])
	}
	for i, f := range sigs {
		vd := permerror(reasonNoHeaderEnd)
		if h.ended {
			vd = v.verify(f, tags[i])
		}
		if v.stopped {
			for i := range out {
				out[i].Result, out[i].Reason = "temperror", reasonDeadline
			}
			return out
		}
		out[i].Result = "pass"
		if vd != nil {
			out[i].Result, out[i].Reason = vd.result, vd.reason
		}
	}
	return out
}

// describe reads the identifying tags of a signature.
func describe(l tagList) Verification {
	get := func(name string) string {
		v, _ := l.get(name)
		return stripSpace(v)
	}
	return Verification{Domain: get("d"), Selector: get("s"), Identifier: get("i"), Algorithm: get("a"), Signature: get("b")}
}

// verifier holds what the signatures of one message share.
type verifier struct {
	ctx     context.Context
	h       header
	o       Options
	body    []byte             // h.body with bare LFs made CRLF, once needed
	fixed   bool               // body is set
	hashes  map[bodyKey]digest // body hashes computed so far
	stopped bool               // ctx ended while hashing: no verdict
}

// bodyKey is a body form: canonicalization and the l= count (-1: all).
type bodyKey struct {
	c     dkimcanon.Canon
	limit int64
}

// digest is the SHA-256 of a body form and the length of the whole
// canonical body.
type digest struct {
	sum    []byte
	length int64
}

// requiredTags: RFC 6376 §3.5 (the REQUIRED tags).
var requiredTags = []string{"v", "a", "b", "bh", "d", "h", "s"}

// verify checks one signature: nil is a pass. The order of the checks
// follows RFC 6376 §6.1 (and go-msgauth, which gateway/msgauth used
// before, so that a signature with several faults gets the same class).
func (v *verifier) verify(field []byte, tags tagList) *verdict {
	if tags.err != nil {
		return permerror("malformed signature tags: %v", tags.err)
	}
	if ver, _ := tags.get("v"); ver != "1" {
		return permerror("incompatible signature version")
	}
	for _, name := range requiredTags {
		if _, ok := tags.get(name); !ok {
			return permerror("signature missing required tag")
		}
	}
	val := func(name string) string {
		s, _ := tags.get(name)
		return stripSpace(s)
	}
	domain := val("d")
	auid := "@" + domain
	if _, ok := tags.get("i"); ok {
		auid = val("i")
		// §3.5 i=: the AUID's domain is d= or a subdomain of it; domain
		// names compare without regard to case.
		l := strings.ToLower(auid)
		if d := strings.ToLower(domain); !strings.HasSuffix(l, "@"+d) && !strings.HasSuffix(l, "."+d) {
			return permerror("domain mismatch")
		}
	}
	signed := colonList(val("h"))
	if !slices.ContainsFunc(signed, func(s string) bool { return strings.EqualFold(s, "from") }) {
		return permerror("From field not signed")
	}
	if t, ok := tags.get("t"); ok {
		if _, err := strconv.ParseInt(stripSpace(t), 10, 64); err != nil {
			return permerror("malformed time: %v", err)
		}
	}
	if x, ok := tags.get("x"); ok {
		exp, err := strconv.ParseInt(stripSpace(x), 10, 64)
		if err != nil {
			return permerror("malformed expiration time: %v", err)
		}
		if v.o.Now.After(time.Unix(exp, 0)) {
			return permerror("signature has expired")
		}
	}
	if q, ok := tags.get("q"); ok && !slices.Contains(colonList(q), "dns/txt") {
		return permerror("unsupported public key query method")
	}
	k, vd := v.fetchKey(val("s"), domain)
	if vd != nil {
		return vd
	}
	keyAlg, hashAlg, ok := strings.Cut(val("a"), "-")
	if !ok {
		return permerror("malformed algorithm name")
	}
	if k.hashes != nil && !slices.Contains(k.hashes, hashAlg) {
		return permerror("inappropriate hash algorithm")
	}
	switch hashAlg {
	case "sha1":
		return permerror("hash algorithm too weak: sha1") // RFC 8301 §3.1
	case "sha256":
	default:
		return permerror("unsupported hash algorithm")
	}
	if k.algorithm != keyAlg {
		return permerror("inappropriate key algorithm")
	}
	if k.services != nil && !slices.Contains(k.services, "email") {
		return permerror("inappropriate service")
	}
	if k.strict {
		// §3.6.1 t=s: the i= domain must be d= itself.
		if _, d, _ := strings.Cut(auid, "@"); !strings.EqualFold(d, domain) {
			return permerror("key flag t=s: the i= domain must be d= itself")
		}
	}
	hc, bc, vd := parseCanon(val("c"))
	if vd != nil {
		return vd
	}
	limit := int64(-1)
	if l, ok := tags.get("l"); ok {
		n, err := strconv.ParseUint(stripSpace(l), 10, 63)
		if err != nil {
			return policy("malformed body length tag")
		}
		limit = int64(n)
	}
	vd = v.check(field, tags, k, signed, hc, bodyKey{bc, limit})
	if limit < 0 || v.stopped {
		return vd
	}
	// §8.2: l= lets text be appended to a signed body. A signature
	// whose l= covers the whole body passes; any other is refused as
	// local policy (RFC 8601 §2.7.1), and the reason tells why.
	d, hashed := v.hashes[bodyKey{bc, limit}]
	switch {
	case hashed && limit > d.length:
		return policy("body length tag l=" + strconv.FormatInt(limit, 10) + " exceeds the body")
	case vd != nil:
		return policy("body length tag, and " + vd.reason)
	case limit < d.length:
		return policy("body length tag leaves " + strconv.FormatInt(d.length-limit, 10) + " body bytes unsigned")
	}
	return nil
}

func policy(reason string) *verdict { return &verdict{"policy", reason} }

// parseCanon reads c= (RFC 6376 §3.5): "header/body", a lone word is the
// header's and the body is simple; absent, both are simple.
func parseCanon(s string) (header, body dkimcanon.Canon, vd *verdict) {
	h, b, _ := strings.Cut(s, "/")
	if h == "" {
		h = "simple"
	}
	if !strings.Contains(s, "/") {
		b = "simple"
	}
	word := func(w string) (dkimcanon.Canon, bool) {
		switch w {
		case "simple":
			return dkimcanon.Simple, true
		case "relaxed":
			return dkimcanon.Relaxed, true
		}
		return 0, false
	}
	header, ok := word(h)
	if !ok {
		return 0, 0, permerror("unsupported header canonicalization algorithm")
	}
	body, ok = word(b)
	if !ok {
		return 0, 0, permerror("unsupported body canonicalization algorithm")
	}
	return header, body, nil
}

// fetchKey looks up and parses the key record at s._domainkey.d (RFC 6376
// §3.6.2.2: one TXT record; several are refused).
func (v *verifier) fetchKey(selector, domain string) (*key, *verdict) {
	if v.o.LookupTXT == nil {
		return nil, temperror("key unavailable: no resolver")
	}
	recs, err := v.o.LookupTXT(selector + "._domainkey." + domain)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, permerror("no key for signature: %v", err)
		}
		return nil, temperror("key unavailable: %v", err)
	}
	switch len(recs) {
	case 0:
		return nil, permerror("no valid key found")
	case 1:
		return parseKey(recs[0])
	}
	return nil, permerror("multiple TXT records found for key")
}

// check compares the body hash and verifies the signature over the
// header hash (RFC 6376 §6.1.3).
func (v *verifier) check(field []byte, tags tagList, k *key, signed []string, hc dkimcanon.Canon, bk bodyKey) *verdict {
	bh, err := base64.StdEncoding.DecodeString(stripSpace(mustGet(tags, "bh")))
	if err != nil {
		return permerror("malformed body hash: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(stripSpace(mustGet(tags, "b")))
	if err != nil {
		return permerror("malformed signature: %v", err)
	}
	d, ok := v.bodyHash(bk)
	if !ok {
		return temperror(reasonDeadline)
	}
	if subtle.ConstantTimeCompare(d.sum, bh) != 1 {
		return fail("body hash did not verify")
	}

	// §3.7: the signed fields in h= order, then this field with the
	// value of b= deleted and without its final CRLF.
	hh := sha256.New()
	var buf []byte
	p := picker{fields: v.h.fields}
	for _, name := range signed {
		if f := p.pick(name); f != nil {
			buf = dkimcanon.Header(buf[:0], hc, f)
			hh.Write(buf)
		}
	}
	b, _ := tags.find("b")
	off := len(field) - len(fieldValue(field))
	self := make([]byte, 0, len(field))
	self = append(self, field[:off+b.start]...)
	self = append(self, field[off+b.end:]...)
	buf = dkimcanon.Header(buf[:0], hc, self)
	hh.Write(bytes.TrimRight(buf, "\r\n"))
	digest := hh.Sum(nil)

	switch pub := k.public.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
			return fail("signature did not verify: %v", err)
		}
	case ed25519.PublicKey:
		// RFC 8463 §3: PureEdDSA over the SHA-256 of the header data.
		if !ed25519.Verify(pub, digest, sig) {
			return fail("signature did not verify: invalid Ed25519 signature")
		}
	}
	return nil
}

func mustGet(l tagList, name string) string {
	s, _ := l.get(name)
	return s
}

// bodyHash returns the hash of a body form, computing it at most once per
// message; false when ctx ended while hashing.
func (v *verifier) bodyHash(k bodyKey) (digest, bool) {
	if d, ok := v.hashes[k]; ok {
		return d, true
	}
	if !v.fixed {
		// A bare LF ends a line for a verifier, as it does once the
		// message is stored; a bare CR is an ordinary byte (RFC 6376
		// §3.4.3, §3.4.4 read lines ending in CRLF).
		v.body, v.fixed = dkimcanon.FixBareLF(v.h.body), true
	}
	h := sha256.New()
	w := &limitWriter{w: h, left: k.limit}
	if err := dkimcanon.Body(v.ctx, w, k.c, v.body); err != nil {
		v.stopped = true
		return digest{}, false
	}
	d := digest{sum: h.Sum(nil), length: w.n}
	if v.hashes == nil {
		v.hashes = map[bodyKey]digest{}
	}
	v.hashes[k] = d
	return d, true
}

// limitWriter passes on the first left bytes written (all when left < 0)
// and counts them all.
type limitWriter struct {
	w    io.Writer
	left int64
	n    int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	l.n += int64(len(b))
	if l.left < 0 {
		return l.w.Write(b)
	}
	p := b
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	l.left -= int64(len(p))
	if len(p) > 0 {
		if _, err := l.w.Write(p); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
