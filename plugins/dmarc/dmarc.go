package main

import (
	"crypto/rand"
	"strconv"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Tags read (set by the auth-results plugin) and set.
const (
	tagDMARC  = "auth.dmarc"
	tagPolicy = "auth.dmarc.policy"
	tagPct    = "auth.dmarc.pct"
	tagDomain = "auth.dmarc.domain"
	tagAction = "dmarc.action"
)

// Actions, from the harshest (RFC 7489 §6.3 p=).
const (
	actReject     = "reject"
	actQuarantine = "quarantine"
	actNone       = "none"
)

// maxDomain is the longest domain name (RFC 1035 §2.3.4, without the
// final dot); longestDomain is one, for checking reply texts.
const maxDomain = 253

var longestDomain = strings.Repeat("d", maxDomain)

// OnData applies the From domain's policy to a message that failed DMARC.
func (p *enforcer) OnData(h sluice.Host) sluice.Verdict {
	result, ok := h.Tag(tagDMARC)
	if !ok {
		h.Log(sluice.LevelWarn, "no DMARC result: the auth-results plugin must come before dmarc in the data chain")
		return sluice.VerdictContinue
	}
	if result != "fail" {
		h.SetTag(tagAction, actNone)
		return sluice.VerdictContinue
	}
	policy, _ := h.Tag(tagPolicy)
	domain := domainText(h)
	action := p.action(policy, pct(h))
	h.SetTag(tagAction, action)
	switch action {
	case actReject:
		h.Log(sluice.LevelInfo, "DMARC fail for "+domain+": rejected (p="+policy+")")
		return sluice.Reject(h, 550, "5.7.1", replyText(p.text, domain))
	case actQuarantine:
		reason := "DMARC fail for " + domain + " (p=" + policy + ")"
		h.Log(sluice.LevelWarn, "quarantine: "+reason)
		return sluice.Quarantine(h, reason)
	}
	h.Log(sluice.LevelInfo, "DMARC fail for "+domain+": delivered (p="+policy+")")
	return sluice.VerdictContinue
}

// action is what to do with a failing message of policy whose record says
// pct: the policy for the sampled pct percent and the next lower one for
// the rest (RFC 7489 §6.6.4), then softened as configured.
func (p *enforcer) action(policy string, pct int) string {
	a := actNone
	switch strings.ToLower(policy) {
	case actReject:
		a = actReject
	case actQuarantine:
		a = actQuarantine
	}
	if a != actNone && !p.sampled(pct) {
		a = lower(a)
	}
	if a == actReject && !p.reject {
		a = actQuarantine
	}
	if a == actQuarantine && !p.quarantine {
		a = actNone
	}
	return a
}

// lower is the next policy down in harshness.
func lower(a string) string {
	if a == actReject {
		return actQuarantine
	}
	return actNone
}

// sampled reports whether a message falls within pct percent; 100 and
// above always, 0 and below never, without drawing.
func (p *enforcer) sampled(pct int) bool {
	switch {
	case pct >= 100:
		return true
	case pct <= 0:
		return false
	case p.sample != nil:
		return p.sample(pct)
	}
	return sampleRandom(pct)
}

// sampleRandom draws a number from 0 to 99 uniformly (rejecting the bytes
// that would bias it) and reports whether it is below pct. crypto/rand
// reads WASI random_get, which the host backs with cryptographic
// randomness (sdk/ABI.md §6).
func sampleRandom(pct int) bool {
	var b [1]byte
	for {
		rand.Read(b[:])
		if b[0] < 200 {
			return int(b[0]%100) < pct
		}
	}
}

// pct is the auth.dmarc.pct tag, 100 when absent or not a number (RFC 7489
// §6.3: the default), bounded to 0..100.
func pct(h sluice.Host) int {
	v, ok := h.Tag(tagPct)
	if !ok {
		return 100
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 100
	}
	return min(max(n, 0), 100)
}

// domainText is the From domain for the reply and the log: the bytes of a
// host name (letters, digits, '-', '.', '_') of the tag, at most maxDomain
// of them; "the sender's domain" when none is left.
func domainText(h sluice.Host) string {
	v, _ := h.Tag(tagDomain)
	b := make([]byte, 0, min(len(v), maxDomain))
	for i := 0; i < len(v) && len(b) < maxDomain; i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "the sender's domain"
	}
	return string(b)
}

// replyText is text with %domain% replaced.
func replyText(text, domain string) string {
	return strings.ReplaceAll(text, "%domain%", domain)
}
