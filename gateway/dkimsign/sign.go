package dkimsign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimcanon"
	"github.com/sluice-mail/sluice/gateway/message"
)

// Options tune one signature.
type Options struct {
	// Headers are the header field names to sign. Nil means DefaultHeaders. Each name present in the
	// message is signed as many times as it occurs; names absent from the message are not listed
	// (except From, below). "From" is required: a list without it is a *Refusal.
	Headers []string
	// Canonicalization is "relaxed/relaxed" (default when ""), "relaxed/simple", "simple/simple" or
	// "simple/relaxed" (header/body, RFC 6376 §3.4). "relaxed" alone means relaxed/relaxed, "simple" simple/simple.
	Canonicalization string
	// Expiration, if > 0, sets x= to t= + Expiration.
	Expiration time.Duration
	// Now is the signing time (t=); zero means time.Now().
	Now time.Time
}

// DefaultHeaders are the fields signed when Options.Headers is nil: those
// RFC 6376 §5.4.1 recommends, plus the list and MIME fields whose change
// alters how the message is presented. Sign does not modify it.
var DefaultHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc",
	"In-Reply-To", "References",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Sender",
}

// Refusal: the message or options cannot be signed for a reason the plugin controls.
// Reason is short printable ASCII, e.g. "message has 2 From fields; DKIM signing needs exactly one".
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "dkim signing refused: " + r.Reason }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// Sign signs m exactly as m.WriteTo renders it (header fields then CRLF then body) and returns the
// DKIM-Signature field, rendered (Raw = "DKIM-Signature: v=1; a=...\r\n", folded with CRLF+TAB or
// CRLF+SPACE so that no line exceeds 78 bytes where possible and never 998), ready to be inserted
// at the top of the header (index 0). From is oversigned: h= lists "from" once more than the
// message has From fields (RFC 6376 §8.15). A message without exactly one From field gives a
// *Refusal. d= is k.Domain, s= k.Selector. Other errors are internal.
//
// The rendering signed is the one a changed message has (the new field
// makes it changed): every field ends in CRLF, an empty line follows the
// header, and a non-empty body ends in CRLF. A message with a bare CR or LF,
// or a field that does not render as one header field, is refused: verifiers
// would not read it as it was signed.
func Sign(m *message.Message, k *Key, o Options) (message.Field, error) {
	return SignContext(context.Background(), m, k, o)
}

// SignContext is Sign under ctx: hashing a large body stops soon after ctx
// ends (every dkimcanon.Chunk bytes), and the error is then ctx's.
func SignContext(ctx context.Context, m *message.Message, k *Key, o Options) (message.Field, error) {
	if m == nil {
		return message.Field{}, errors.New("dkimsign: nil message")
	}
	alg, err := checkSigningKey(k)
	if err != nil {
		return message.Field{}, err
	}
	hc, bc, ok := parseCanonicalization(o.Canonicalization)
	if !ok {
		return message.Field{}, refuse("canonicalization must be relaxed/relaxed, relaxed/simple, simple/simple or simple/relaxed")
	}
	names, err := signedNames(o.Headers)
	if err != nil {
		return message.Field{}, err
	}
	if err := checkMessage(m); err != nil {
		return message.Field{}, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	t := now.Unix()
	if t < 0 {
		return message.Field{}, errors.New("dkimsign: signing time before 1970")
	}

	// canonBody reads a body without its final CRLF as if it had one, as
	// the rendering of a changed message adds it: no copy here.
	bh := sha256.New()
	if err := dkimcanon.Body(ctx, bh, bc, m.Body); err != nil {
		return message.Field{}, err
	}

	tags := []tag{
		{"v", "1"},
		{"a", alg},
		{"c", hc.String() + "/" + bc.String()},
		{"d", k.Domain},
		{"s", k.Selector},
		{"t", strconv.FormatInt(t, 10)},
	}
	if o.Expiration > 0 {
		secs := int64((o.Expiration + time.Second - 1) / time.Second) // x= > t= (RFC 6376 §3.5)
		tags = append(tags, tag{"x", strconv.FormatInt(t+secs, 10)})
	}
	hlist, fields := pickFields(m, names)
	f := renderUnsigned(tags, hlist, base64.StdEncoding.EncodeToString(bh.Sum(nil)))

	// RFC 6376 §3.7: the signed fields in h= order, then this field with
	// an empty b= and without its final CRLF.
	hh := sha256.New()
	var buf []byte
	for _, i := range fields {
		buf = dkimcanon.Header(buf[:0], hc, fieldBytes(m.Fields[i]))
		hh.Write(buf)
	}
	self := append([]byte(sigFieldName+": "), f.b...)
	self = append(self, crlf...)
	buf = dkimcanon.Header(buf[:0], hc, self)
	hh.Write(bytes.TrimSuffix(buf, crlf))

	sig, err := signDigest(k.Signer, alg, hh.Sum(nil))
	if err != nil {
		return message.Field{}, err
	}
	f.base64(base64.StdEncoding.EncodeToString(sig))
	field, err := message.Render([]byte(sigFieldName), f.b)
	if err != nil {
		return message.Field{}, fmt.Errorf("dkimsign: rendering signature: %w", err)
	}
	return field, nil
}

// checkSigningKey checks a key before use; keys not made by LoadKey are
// checked as it would.
func checkSigningKey(k *Key) (string, error) {
	if k == nil || k.Signer == nil {
		return "", errors.New("dkimsign: no key")
	}
	alg, err := algorithmOf(k.Signer)
	if err != nil {
		return "", fmt.Errorf("dkimsign: key %q: %w", k.Name, err)
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return "", fmt.Errorf("dkimsign: key %q: algorithm %q does not match its %s key", k.Name, k.Algorithm, alg)
	}
	if err := validDomain(k.Domain); err != nil {
		return "", fmt.Errorf("dkimsign: key %q: domain: %w", k.Name, err)
	}
	if err := validSelector(k.Selector, k.Domain); err != nil {
		return "", fmt.Errorf("dkimsign: key %q: selector: %w", k.Name, err)
	}
	return alg, nil
}

// defaultNames is what signedNames returns for DefaultHeaders, made once:
// lowering and checking the 24 names cost about 4 µs a signature.
// defaultsFrom is the list it was made from, so that a change to
// DefaultHeaders still takes effect.
var (
	defaultsFrom    = slices.Clone(DefaultHeaders)
	defaultNames, _ = checkNames(defaultsFrom)
)

// signedNames validates the requested names and returns them lowercased,
// duplicates removed (a repeated name would oversign it). The result is
// shared: callers do not modify it.
func signedNames(requested []string) ([]string, error) {
	if requested == nil {
		if slices.Equal(DefaultHeaders, defaultsFrom) {
			return defaultNames, nil
		}
		requested = DefaultHeaders
	}
	return checkNames(requested)
}

// checkNames is signedNames for a list given.
func checkNames(requested []string) ([]string, error) {
	// The lists are short (a dozen names), so a linear search beats a map,
	// which was most of this function's cost on every signature.
	out := make([]string, 0, len(requested))
	for i, n := range requested {
		// ';' ends a tag and '=' would let a verifier's b= pattern
		// match inside h= (RFC 6376 §3.2 tag-list syntax).
		if message.ValidName([]byte(n)) != nil || strings.ContainsAny(n, ";=") {
			return nil, refuse("header name %d in the list is not a signable field name", i+1)
		}
		if l := strings.ToLower(n); !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	if !slices.Contains(out, "from") {
		return nil, refuse("the header name list must include From")
	}
	return out, nil
}

// checkMessage refuses what verifiers would not read as it is signed, and
// a From count other than one (RFC 6376 §8.15, RFC 5322 §3.6).
func checkMessage(m *message.Message) error {
	from := 0
	for i, f := range m.Fields {
		if !wellFormedField(f) {
			return refuse("header field %d is malformed (bare CR or LF, or not one field)", i+1)
		}
		if strings.EqualFold(f.Name, "From") {
			from++
		}
	}
	if from != 1 {
		return refuse("message has %d From fields; DKIM signing needs exactly one", from)
	}
	if dkimcanon.HasBareCRLF(m.Body) || bytes.HasSuffix(m.Body, []byte("\r")) {
		return refuse("message body contains a bare CR or LF")
	}
	return nil
}

// fieldBytes is a field as WriteTo renders it in a changed message.
func fieldBytes(f message.Field) []byte {
	if bytes.HasSuffix(f.Raw, crlf) {
		return f.Raw
	}
	return append(f.Raw[:len(f.Raw):len(f.Raw)], crlf...)
}

// wellFormedField reports whether f renders as exactly one header field
// named f.Name: "name:" then a value whose only CRLFs are folding ones
// (CRLF followed by WSP), ended by CRLF.
func wellFormedField(f message.Field) bool {
	raw := fieldBytes(f)
	colon := bytes.IndexByte(raw, ':')
	if colon <= 0 {
		return false
	}
	name := bytes.TrimRight(raw[:colon], " \t")
	if message.ValidName(name) != nil || message.ValidName([]byte(f.Name)) != nil ||
		!strings.EqualFold(string(name), f.Name) { // both ASCII: ASCII folding
		return false
	}
	end := len(raw) - 2 // the final CRLF
	for i := colon + 1; i < end; i++ {
		switch raw[i] {
		case '\r':
			if raw[i+1] != '\n' || i+2 >= end || (raw[i+2] != ' ' && raw[i+2] != '\t') {
				return false
			}
			i++
		case '\n':
			return false
		}
	}
	return true
}

// pickFields returns the h= list and the indexes of the fields it selects,
// in h= order. Each requested name present in m is listed once per
// instance, instances taken from the bottom of the header up (RFC 6376
// §5.4.2); "from" is listed once more than it occurs, so that a From field
// added later breaks the signature (§8.15).
func pickFields(m *message.Message, names []string) ([]string, []int) {
	byName := make(map[string][]int)
	for i, f := range m.Fields {
		l := strings.ToLower(f.Name)
		byName[l] = append(byName[l], i)
	}
	var hlist []string
	var idx []int
	for _, n := range names {
		inst := byName[n]
		for j := len(inst) - 1; j >= 0; j-- {
			hlist = append(hlist, n)
			idx = append(idx, inst[j])
		}
		if n == "from" {
			hlist = append(hlist, n)
		}
	}
	return hlist, idx
}

// signDigest signs the SHA-256 digest of the header data: RSASSA-PKCS1-v1_5
// for rsa-sha256 (RFC 6376 §3.3.1), PureEdDSA over the digest for
// ed25519-sha256 (RFC 8463 §3).
func signDigest(s crypto.Signer, alg string, digest []byte) ([]byte, error) {
	opts := crypto.Hash(crypto.SHA256)
	if alg == AlgorithmEd25519 {
		opts = crypto.Hash(0)
	}
	sig, err := s.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("dkimsign: signing: %w", err)
	}
	return sig, nil
}
