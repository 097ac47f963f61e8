package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Tags this plugin sets.
const (
	tagSigned  = "dkim.signed"  // "d=DOMAIN s=SELECTOR", or "no"
	tagRefused = "dkim.refused" // why the message could not be signed
)

// maxTag is the longest tag value the host accepts (sdk/ABI.md §4.3).
const maxTag = 1024

// OnData signs the message with the keys of the From domain.
func (p *signer) OnData(h sluice.Host) sluice.Verdict {
	keys := p.keys
	if len(keys) == 0 {
		keys = h.DKIMKeys() // a host that lists keys only in phases
	}
	if len(keys) == 0 {
		h.Log(sluice.LevelWarn, `no DKIM key is granted to this plugin (grants = ["dkim:NAME"]): message not signed`)
		h.SetTag(tagSigned, "no")
		return sluice.VerdictContinue
	}
	value, n := fromField(h)
	if n != 1 {
		return p.refused(h, fmt.Sprintf("message has %d From fields; DKIM signing needs exactly one", n), nil)
	}
	domain := fromDomain(value)
	use := matching(keys, domain)
	if len(use) == 0 {
		k, ok := p.fallback(h, keys)
		if !ok {
			if domain == "" {
				h.Log(sluice.LevelDebug, "no domain found in the From field: message not signed")
			} else {
				h.Log(sluice.LevelDebug, "no DKIM key for the From domain "+domain+": message not signed")
			}
			h.SetTag(tagSigned, "no")
			return sluice.VerdictContinue
		}
		use = []sluice.DKIMKey{k}
	}
	var signed []string
	for _, k := range use {
		if err := h.SignDKIM(k.Name, p.opts); err != nil {
			reason := err.Error()
			var ref *sluice.DKIMRefusal
			if errors.As(err, &ref) {
				reason = ref.Reason
			}
			return p.refused(h, reason, signed)
		}
		signed = append(signed, "d="+k.Domain+" s="+k.Selector)
	}
	sig := tagValue(strings.Join(signed, ", "))
	h.SetTag(tagSigned, sig)
	h.Log(sluice.LevelDebug, "signed: "+sig)
	return sluice.VerdictContinue
}

// fromField returns the value of the first From field and how many From
// fields the message has.
func fromField(h sluice.Host) (string, int) {
	first, ok := h.FindHeader("From", 0)
	if !ok {
		return "", 0
	}
	n := 1
	for ; ; n++ {
		if _, ok := h.FindHeader("From", n); !ok {
			break
		}
	}
	v, _ := h.HeaderValue(first)
	return v, n
}

// matching returns the keys whose domain is domain or a parent of it,
// compared case-insensitively: of these, only the keys of the longest
// domain, sorted by name. An empty domain matches nothing.
func matching(keys []sluice.DKIMKey, domain string) []sluice.DKIMKey {
	if domain == "" {
		return nil
	}
	var best []sluice.DKIMKey
	bestLen := 0
	for _, k := range keys {
		kd := strings.ToLower(strings.TrimSuffix(k.Domain, "."))
		if kd == "" || (domain != kd && !strings.HasSuffix(domain, "."+kd)) {
			continue
		}
		switch {
		case len(kd) > bestLen:
			best, bestLen = []sluice.DKIMKey{k}, len(kd)
		case len(kd) == bestLen:
			best = append(best, k)
		}
	}
	slices.SortFunc(best, func(a, b sluice.DKIMKey) int { return strings.Compare(a.Name, b.Name) })
	return best
}

// fallback returns the sign_unmatched key, if configured and granted.
func (p *signer) fallback(h sluice.Host, keys []sluice.DKIMKey) (sluice.DKIMKey, bool) {
	if p.unmatched == "" {
		return sluice.DKIMKey{}, false
	}
	for _, k := range keys {
		if k.Name == p.unmatched {
			return k, true
		}
	}
	h.Log(sluice.LevelWarn, "sign_unmatched key "+p.unmatched+" is not granted to this plugin: message not signed")
	return sluice.DKIMKey{}, false
}

// refused records why the message was not signed (or, after signed, not
// signed further), then continues or defers it as on_refusal says.
func (p *signer) refused(h sluice.Host, reason string, signed []string) sluice.Verdict {
	reason = printable(reason, 256)
	h.Log(sluice.LevelInfo, "message not signed: "+reason)
	h.SetTag(tagRefused, reason)
	if len(signed) > 0 {
		h.SetTag(tagSigned, tagValue(strings.Join(signed, ", ")))
	} else {
		h.SetTag(tagSigned, "no")
	}
	if p.tempfail {
		return sluice.Tempfail(h, 451, "4.7.0", "Message cannot be DKIM signed: "+reason)
	}
	return sluice.VerdictContinue
}

// tagValue cuts s to the longest value a tag may have.
func tagValue(s string) string {
	if len(s) > maxTag {
		return s[:maxTag]
	}
	return s
}

// printable returns s with every byte outside printable ASCII turned into
// a space, trimmed and cut at max bytes; "unknown reason" when nothing is
// left.
func printable(s string, max int) string {
	b := []byte(s)
	if len(b) > max {
		b = b[:max]
	}
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = ' '
		}
	}
	if t := strings.TrimSpace(string(b)); t != "" {
		return t
	}
	return "unknown reason"
}
