package sluicetest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/msgauth"
	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// DKIM signing (ABI §4.10) and message authentication (ABI §4.11) are
// emulated with the gateway's own code: SignDKIM signs with the keys the
// test set with SetDKIMKey, and CheckAuth evaluates SPF, DKIM and DMARC
// against the records set with SetDNS. Results are what the real host
// would return, round-tripped through the ABI's JSON.

// SetDKIMKey grants the plugin the key name for domain and selector, as a
// dkim_key block plus grants = ["dkim:name"] would.
func (s *Session) SetDKIMKey(name, domain, selector string, signer crypto.Signer) {
	var alg string
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		alg = "ed25519-sha256"
	case *rsa.PublicKey:
		alg = "rsa-sha256"
	default:
		panic("sluicetest: SetDKIMKey: the signer must be an ed25519 or RSA key")
	}
	s.dkimKeys[name] = &dkimsign.Key{Name: name, Domain: domain, Selector: selector, Signer: signer, Algorithm: alg}
}

func (h *host) DKIMKeys() []sluice.DKIMKey {
	v, _ := h.Info(sluice.InfoDKIMKeys)
	return sluice.ParseDKIMKeys(v)
}

// dkimKeyList is the value of info "dkim.keys": one granted key per line,
// sorted by name.
func (s *Session) dkimKeyList() (string, bool) {
	names := slices.Sorted(maps.Keys(s.dkimKeys))
	lines := make([]string, 0, len(names))
	for _, n := range names {
		k := s.dkimKeys[n]
		lines = append(lines, strings.Join([]string{k.Name, k.Domain, k.Selector, k.Algorithm}, " "))
	}
	return strings.Join(lines, "\n"), len(lines) > 0
}

func (h *host) SignDKIM(name string, opts sluice.DKIMOptions) error {
	s := h.enter(abi.FnDKIMSign)
	m, err := h.c.Message(abi.FnDKIMSign)
	check(err)
	k := s.dkimKeys[name]
	if k == nil {
		trapf("dkim_sign: key %q is not granted to this plugin", name)
	}
	if !dkimsign.ValidCanonicalization(opts.Canonicalization) {
		trapf("dkim_sign: unknown canonicalization %q", opts.Canonicalization)
	}
	if opts.Expiration < 0 {
		trapf("dkim_sign: negative expiration %d", opts.Expiration)
	}
	f, err := dkimsign.Sign(m, k, dkimsign.Options{
		Headers: opts.Headers, Canonicalization: opts.Canonicalization,
		Expiration: time.Duration(opts.Expiration) * time.Second, Now: s.clock,
	})
	var ref *dkimsign.Refusal
	switch {
	case errors.As(err, &ref):
		return &sluice.DKIMRefusal{Reason: ref.Reason}
	case err != nil:
		trapf("dkim_sign: %v", err)
	}
	check(h.c.PrependField(abi.FnDKIMSign, f))
	h.effect("dkim_sign %q", name)
	return nil
}

// authTimeout bounds an emulated auth_check; the emulated resolver answers
// from memory, so it is never reached in practice.
const authTimeout = 5 * time.Second

func (h *host) CheckAuth(checks sluice.AuthChecks) (*sluice.AuthResult, bool) {
	s := h.enter("auth_check")
	if checks&^(sluice.CheckSPF|sluice.CheckDKIM|sluice.CheckDMARC) != 0 || checks == 0 {
		trapf("auth_check: invalid checks %d", checks)
	}
	if s.phase < PhaseMail || (checks&^sluice.CheckSPF != 0 && s.phase != PhaseData) {
		return nil, false
	}
	st := h.c.State()
	in := msgauth.Input{Helo: st.Session.Helo, MailFrom: st.From}
	if st.Session.ClientIP.IsValid() {
		in.ClientIP = net.IP(st.Session.ClientIP.Unmap().AsSlice())
	}
	if s.phase == PhaseData {
		in.Message = st.Msg
	}
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	r := msgauth.Evaluate(ctx, in, msgauth.Checks(checks), msgauth.Options{Resolver: sessionResolver{s}})
	b, err := json.Marshal(r)
	if err != nil {
		trapf("auth_check: %v", err)
	}
	var out sluice.AuthResult
	if err := json.Unmarshal(b, &out); err != nil {
		trapf("auth_check: %v", err)
	}
	return &out, true
}

// sessionResolver answers the host's own lookups (for auth_check) from the
// records set with SetDNS, like the emulated dns_lookup.
type sessionResolver struct{ s *Session }

func (r sessionResolver) Lookup(_ context.Context, qtype, name string) ([]string, error) {
	k := dnsKey(name)
	if r.s.dnsTemp[k] {
		return nil, dns.ErrTemporary
	}
	recs := r.s.dns[k][strings.ToUpper(qtype)]
	if len(recs) == 0 {
		return nil, dns.ErrNotFound
	}
	return slices.Clone(recs), nil
}
