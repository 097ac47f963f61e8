package sluice

import (
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// AuthChecks selects what Host.CheckAuth evaluates (ABI §4.11).
type AuthChecks int32

// Checks for Host.CheckAuth, OR-ed together.
const (
	CheckSPF   = AuthChecks(abi.AuthSPF)
	CheckDKIM  = AuthChecks(abi.AuthDKIM)
	CheckDMARC = AuthChecks(abi.AuthDMARC) // implies CheckSPF and CheckDKIM
)

// AuthResult is the host's evaluation of a message's authentication, as
// the JSON of ABI §4.11. A member is nil (DKIM: empty) when its check was
// not asked for.
type AuthResult struct {
	SPF   *SPFResult   `json:"spf,omitempty"`
	DKIM  []DKIMResult `json:"dkim,omitempty"`
	DMARC *DMARCResult `json:"dmarc,omitempty"`
	// ResInfo is the results as the host renders them for an RFC 8601
	// Authentication-Results field, folded: a field's value is
	// authserv-id + ";\r\n\t" + ResInfo.
	ResInfo string `json:"resinfo,omitempty"`
}

// SPFResult is the SPF check of the client (RFC 7208).
type SPFResult struct {
	// Result is none, neutral, pass, fail, softfail, temperror or permerror.
	Result string `json:"result"`
	// Identity is "mailfrom", or "helo" for the null sender.
	Identity string `json:"identity"`
	Domain   string `json:"domain"` // the domain whose SPF record was checked
	Sender   string `json:"sender"` // MAIL FROM, or postmaster@HELO
	Reason   string `json:"reason,omitempty"`
}

// DKIMResult is the verification of one DKIM signature (RFC 6376), or the
// single result "none" for a message without signatures.
type DKIMResult struct {
	// Result is none, pass, fail, neutral, temperror, permerror or policy.
	Result     string `json:"result"`
	Domain     string `json:"domain,omitempty"`     // d=
	Selector   string `json:"selector,omitempty"`   // s=
	Identifier string `json:"identifier,omitempty"` // i=
	Algorithm  string `json:"algorithm,omitempty"`  // a=
	Signature  string `json:"b,omitempty"`          // the first characters of b=
	Reason     string `json:"reason,omitempty"`
}

// DMARCResult is the DMARC evaluation of the RFC 5322 From domain (RFC 7489).
type DMARCResult struct {
	// Result is none, pass, fail, temperror or permerror.
	Result       string `json:"result"`
	FromDomain   string `json:"from_domain"`
	PolicyDomain string `json:"policy_domain,omitempty"`
	// Policy is the policy that applies: none, quarantine or reject; ""
	// without a DMARC record.
	Policy      string `json:"policy,omitempty"`
	Percent     int    `json:"pct"`
	SPFAligned  bool   `json:"spf_aligned"`
	DKIMAligned bool   `json:"dkim_aligned"`
	Reason      string `json:"reason,omitempty"`
}

// DKIMKey is a key the plugin may sign with (ABI §4.10).
type DKIMKey struct {
	Name, Domain, Selector, Algorithm string
}

// DKIMOptions tune a signature (ABI §4.10). The zero value signs the
// default header fields with relaxed/relaxed canonicalization.
type DKIMOptions struct {
	// Headers are the header field names to sign; nil means the host's
	// default list. It must include From.
	Headers []string `json:"headers,omitempty"`
	// Canonicalization is "relaxed/relaxed" (""), "relaxed/simple",
	// "simple/relaxed", "simple/simple", "relaxed" or "simple".
	Canonicalization string `json:"canonicalization,omitempty"`
	// Expiration is the signature's lifetime in seconds (x=); 0 for none.
	Expiration int64 `json:"expiration,omitempty"`
}

// DKIMRefusal is the error of Host.SignDKIM when the host declined to sign
// (no From field or more than one, or Headers without From); the message
// is unchanged.
type DKIMRefusal struct{ Reason string }

func (r *DKIMRefusal) Error() string { return "dkim signing refused: " + r.Reason }

// ParseDKIMKeys parses the value of info "dkim.keys" (ABI §4.2): one key
// per line, "name domain selector algorithm".
func ParseDKIMKeys(s string) []DKIMKey {
	var keys []DKIMKey
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		keys = append(keys, DKIMKey{Name: f[0], Domain: f[1], Selector: f[2], Algorithm: f[3]})
	}
	return keys
}

// maxRefusal is the longest reason dkim_sign writes (ABI §4.10).
const maxRefusal = 256

func (g *guestHost) DKIMKeys() []DKIMKey {
	s, ok := g.Info(abi.InfoDKIMKeys)
	if !ok {
		return nil
	}
	return ParseDKIMKeys(s)
}

// SignDKIM passes no options at all for the defaults (ABI §4.10: length
// 0 means {}), which spares the host a JSON decoder, and lends the
// scratch buffer for the reason.
func (g *guestHost) SignDKIM(name string, opts DKIMOptions) error {
	var raw []byte
	if len(opts.Headers) > 0 || opts.Canonicalization != "" || opts.Expiration != 0 {
		raw = opts.marshal()
	}
	buf := g.scratch[:maxRefusal] // the scratch buffer is never smaller
	clear(buf)                    // the host writes the reason without a NUL
	switch n := g.raw.dkimSign(name, raw, buf); n {
	case 0:
		return nil
	case abi.ErrRefused:
		end := 0
		for end < len(buf) && buf[end] != 0 {
			end++
		}
		return &DKIMRefusal{Reason: string(buf[:end])}
	default:
		return &DKIMRefusal{Reason: "unexpected host result"}
	}
}

// CheckAuth runs auth_check into the scratch buffer (the host keeps the
// result for the call, so a retry with a bigger buffer looks nothing up
// again) and decodes the JSON by hand (decodeAuthResult). JSON it cannot
// read, from a host newer than this SDK say, is read member by member
// with auth_value instead (ABI §4.11).
func (g *guestHost) CheckAuth(checks AuthChecks) (*AuthResult, bool) {
	b, ok := g.fetch(func(buf []byte) int32 { return g.raw.authCheck(int32(checks), buf) })
	if !ok {
		return nil, false
	}
	if r, ok := decodeAuthResult(string(b)); ok {
		return r, true
	}
	return g.authValues(), true
}

// authValues reads the last auth_check result with one auth_value call
// per member.
func (g *guestHost) authValues() *AuthResult {
	get := func(key string) string {
		v, _ := g.fetchString(func(buf []byte) int32 { return g.raw.authValue(key, buf) })
		return v
	}
	spf := func(m string) string { return get(abi.AuthKeySPF + m) }
	dmarc := func(m string) string { return get(abi.AuthKeyDMARC + m) }
	var r AuthResult
	if v := spf(abi.AuthResult); v != "" {
		r.SPF = &SPFResult{Result: v, Identity: spf(abi.AuthIdentity), Domain: spf(abi.AuthDomain),
			Sender: spf(abi.AuthSender), Reason: spf(abi.AuthReason)}
	}
	if n, err := strconv.Atoi(get(abi.AuthKeyDKIMCount)); err == nil && n >= 0 {
		r.DKIM = make([]DKIMResult, n)
		for i := range r.DKIM {
			p := abi.AuthKeyDKIM + strconv.Itoa(i) + "."
			r.DKIM[i] = DKIMResult{Result: get(p + abi.AuthResult), Domain: get(p + abi.AuthDomain), Selector: get(p + abi.AuthSelector),
				Identifier: get(p + abi.AuthIdentifier), Algorithm: get(p + abi.AuthAlgorithm), Signature: get(p + abi.AuthSignature),
				Reason: get(p + abi.AuthReason)}
		}
	}
	if v := dmarc(abi.AuthResult); v != "" {
		pct, _ := strconv.Atoi(dmarc(abi.AuthPercent))
		r.DMARC = &DMARCResult{Result: v, FromDomain: dmarc(abi.AuthFromDomain), PolicyDomain: dmarc(abi.AuthPolicyDomain),
			Policy: dmarc(abi.AuthPolicy), Percent: pct, SPFAligned: dmarc(abi.AuthSPFAligned) == "true",
			DKIMAligned: dmarc(abi.AuthDKIMAligned) == "true", Reason: dmarc(abi.AuthReason)}
	}
	r.ResInfo = get(abi.AuthKeyResInfo)
	return &r
}
