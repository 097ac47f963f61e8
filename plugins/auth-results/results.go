package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/authres"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Tags this plugin sets for later plugins.
const (
	tagSPF         = "auth.spf"
	tagDKIM        = "auth.dkim"
	tagDKIMDomains = "auth.dkim.domains"
	tagDMARC       = "auth.dmarc"
	tagPolicy      = "auth.dmarc.policy"
	tagPct         = "auth.dmarc.pct"
	tagDomain      = "auth.dmarc.domain"
)

// fieldName is the field of RFC 8601.
const fieldName = "Authentication-Results"

// maxTag is the longest tag value the host accepts (sdk/ABI.md §4.3).
const maxTag = 1024

// OnData checks the message, sets the tags, removes our (and with
// remove_foreign every) incoming Authentication-Results field and adds ours.
func (p *authResults) OnData(h sluice.Host) sluice.Verdict {
	r, ok := h.CheckAuth(sluice.CheckDMARC)
	p.removeFields(h)
	if !ok || r == nil {
		h.Log(sluice.LevelWarn, "the host did not check the message's authentication: no results recorded")
		return sluice.VerdictContinue
	}
	setTags(h, r)
	if p.header {
		h.InsertHeader(0, fieldName, render(p.id, r.ResInfo))
	}
	return sluice.VerdictContinue
}

// setTags records the results for later plugins.
func setTags(h sluice.Host, r *sluice.AuthResult) {
	if r.SPF != nil {
		h.SetTag(tagSPF, authres.Keyword(r.SPF.Result))
	}
	h.SetTag(tagDKIM, bestDKIM(r.DKIM))
	var passing []string
	for _, d := range r.DKIM {
		if authres.Keyword(d.Result) != "pass" {
			continue
		}
		if dom := strings.ToLower(authres.Value(d.Domain)); dom != "" && !slices.Contains(passing, dom) {
			passing = append(passing, dom)
		}
	}
	h.SetTag(tagDKIMDomains, words(passing, maxTag))
	if m := r.DMARC; m != nil {
		h.SetTag(tagDMARC, authres.Keyword(m.Result))
		policy := ""
		if m.Policy != "" {
			policy = authres.Keyword(m.Policy)
		}
		h.SetTag(tagPolicy, policy)
		h.SetTag(tagPct, strconv.Itoa(min(max(m.Percent, 0), 100)))
		h.SetTag(tagDomain, strings.ToLower(authres.Value(m.FromDomain)))
	}
}

// bestDKIM summarizes the DKIM results: pass when any signature passed,
// else the first result other than none, else none.
func bestDKIM(rs []sluice.DKIMResult) string {
	first := ""
	for _, d := range rs {
		k := authres.Keyword(d.Result)
		if k == "pass" {
			return k
		}
		if first == "" && k != "none" {
			first = k
		}
	}
	if first == "" {
		return "none"
	}
	return first
}

// words joins ws with spaces, leaving out the words that would make the
// text longer than max bytes.
func words(ws []string, max int) string {
	var b strings.Builder
	for _, w := range ws {
		if b.Len()+1+len(w) > max {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}
