package msgauth

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/sluice-mail/sluice/gateway/message"
)

// checkDMARC finds the DMARC record for the RFC5322.From domain (RFC 7489
// §6.6.3) and checks identifier alignment (§3.1) against the SPF and DKIM
// results already computed.
//
// The result is pass when an SPF pass or a DKIM pass aligns (§4.2). When
// nothing aligns but an aligned identifier could not be checked because of
// a temporary DNS failure, the result is temperror rather than fail, so
// that a DNS outage does not look like forgery.
func checkDMARC(m *message.Message, spfRes *SPFResult, dkimRes []DKIMResult, lookupTXT func(string) ([]string, error)) *DMARCResult {
	r := &DMARCResult{}
	from, why := fromDomain(m)
	if why != "" {
		r.Result, r.Reason = "permerror", why
		return r
	}
	r.FromDomain = from

	rec, where, result, why := discoverPolicy(from, lookupTXT)
	if rec == nil {
		r.Result, r.Reason = result, why
		return r
	}
	r.PolicyDomain = where
	r.Policy = string(rec.Policy)
	if where != from && rec.SubdomainPolicy != "" {
		r.Policy = string(rec.SubdomainPolicy)
	}
	r.Percent = 100
	if rec.Percent != nil {
		r.Percent = *rec.Percent
	}

	spfTemp := false
	if spfRes != nil && aligned(spfRes.Domain, from, rec.SPFAlignment) {
		r.SPFAligned = spfRes.Result == "pass"
		spfTemp = spfRes.Result == "temperror"
	}
	dkimTemp := false
	for _, d := range dkimRes {
		if d.Domain == "" || !aligned(d.Domain, from, rec.DKIMAlignment) {
			continue
		}
		switch d.Result {
		case "pass":
			r.DKIMAligned = true
		case "temperror":
			dkimTemp = true
		}
	}
	switch {
	case r.SPFAligned || r.DKIMAligned:
		r.Result = "pass"
	case spfTemp || dkimTemp:
		r.Result, r.Reason = "temperror", "no aligned pass; an aligned check failed temporarily"
	default:
		r.Result, r.Reason = "fail", "neither SPF nor DKIM passed for an aligned domain"
	}
	return r
}

// discoverPolicy looks up _dmarc.FROM, then _dmarc.ORG when FROM has no
// record and its organizational domain differs (RFC 7489 §6.6.3). With no
// record it returns the result (none, temperror, permerror) and a reason.
func discoverPolicy(from string, lookupTXT func(string) ([]string, error)) (rec *dmarc.Record, where, result, why string) {
	domains := []string{from}
	if org := orgDomain(from); org != from {
		domains = append(domains, org)
	}
	for _, d := range domains {
		multiple := false
		opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
			txts, err := lookupTXT(name)
			if err != nil {
				return nil, err
			}
			// §6.6.3 step 4: keep only DMARC records; more than one
			// ends policy discovery.
			keep := txts[:0:0]
			for _, t := range txts {
				if isDMARC1(t) {
					keep = append(keep, t)
				}
			}
			if len(keep) > 1 {
				multiple = true
				return nil, nil
			}
			return keep, nil
		}}
		rec, err := dmarc.LookupWithOptions(d, opts)
		switch {
		case err == nil:
			return rec, d, "", ""
		case multiple:
			return nil, "", "none", "multiple DMARC records at _dmarc." + d
		case dmarc.IsTempFail(err):
			return nil, "", "temperror", reason(err.Error())
		case errors.Is(err, dmarc.ErrNoPolicy):
			continue
		default:
			return nil, "", "permerror", reason(fmt.Sprintf("invalid DMARC record at _dmarc.%s: %v", d, strings.TrimPrefix(err.Error(), "dmarc: ")))
		}
	}
	return nil, "", "none", "no DMARC record"
}

// isDMARC1 reports whether a TXT record starts with the DMARC version tag
// (RFC 7489 §6.4: "v=DMARC1" first, case-sensitive).
func isDMARC1(t string) bool {
	rest, ok := strings.CutPrefix(t, "v=DMARC1")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

// aligned compares two domains under an alignment mode (RFC 7489 §3.1):
// strict means equal, relaxed means the same organizational domain.
func aligned(a, b string, mode dmarc.AlignmentMode) bool {
	a, b = normalizeDomain(a), normalizeDomain(b)
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	if mode == dmarc.AlignmentStrict {
		return false
	}
	return orgDomain(a) == orgDomain(b)
}

// orgDomain is the organizational domain of d: its public suffix plus one
// label (RFC 7489 §3.2), or d itself when d is a public suffix or invalid.
func orgDomain(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// fromDomain returns the domain of the RFC5322.From addresses, or why
// there is none: no From, several From fields, an unparsable field, or
// addresses in several domains (RFC 7489 §6.6.1).
func fromDomain(m *message.Message) (string, string) {
	from := []byte("From")
	i := m.Find(from, 0)
	if i < 0 {
		return "", "message has no From field"
	}
	if m.Find(from, 1) >= 0 {
		return "", "message has several From fields"
	}
	value := unfold(m.Fields[i].Value())
	var domains []string
	if addrs, err := mail.ParseAddressList(string(value)); err == nil {
		for _, a := range addrs {
			domains = append(domains, addressDomain(a.Address))
		}
	} else if d, ok := lenientDomain(value); ok {
		domains = append(domains, d)
	} else {
		return "", "From field could not be parsed"
	}
	if len(domains) == 0 {
		return "", "From field has no address"
	}
	for _, d := range domains {
		if d == "" {
			return "", "From address has no domain"
		}
		if d != domains[0] {
			return "", "From field has addresses in several domains"
		}
	}
	return domains[0], ""
}

// addressDomain is the normalized domain of an addr-spec.
func addressDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return normalizeDomain(addr[at+1:])
}

// unfold removes the CRLFs of folding (RFC 5322 §2.2.3).
func unfold(v []byte) []byte {
	if bytes.IndexByte(v, '\r') < 0 && bytes.IndexByte(v, '\n') < 0 {
		return v
	}
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}

// lenientDomain takes the domain of a From value that net/mail refuses
// (obsolete or sloppy syntax) when the value holds exactly one "@": the
// run of domain characters after it.
func lenientDomain(v []byte) (string, bool) {
	if bytes.Count(v, []byte("@")) != 1 {
		return "", false
	}
	rest := v[bytes.IndexByte(v, '@')+1:]
	n := 0
	for n < len(rest) {
		c := rest[n]
		if c == '>' || c == ' ' || c == '\t' || c == '(' || c == ')' || c == ',' || c == ';' || c == '"' || c == '<' {
			break
		}
		n++
	}
	if n == 0 {
		return "", false
	}
	return normalizeDomain(string(rest[:n])), true
}
