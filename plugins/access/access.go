package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// OnMail refuses a sender that matches deny_senders. The null sender <> is
// the empty string.
func (p *access) OnMail(h sluice.Host) sluice.Verdict {
	if len(p.denySenders) == 0 {
		return sluice.VerdictContinue
	}
	from, _ := h.Info(sluice.InfoMailFrom)
	if g := firstMatch(p.denySenders, from); g != nil {
		h.Log(sluice.LevelInfo, "sender <"+from+"> matches deny_senders pattern \""+g.String()+"\"")
		return p.refuse(h)
	}
	return sluice.VerdictContinue
}

// OnRcpt refuses a recipient that matches deny_recipients or whose domain is
// outside allow_recipient_domains.
func (p *access) OnRcpt(h sluice.Host) sluice.Verdict {
	if len(p.denyRcpts) == 0 && len(p.allowDomains) == 0 {
		return sluice.VerdictContinue
	}
	rcpt, _ := h.Info(sluice.InfoRcpt)
	if g := firstMatch(p.denyRcpts, rcpt); g != nil {
		h.Log(sluice.LevelInfo, "recipient <"+rcpt+"> matches deny_recipients pattern \""+g.String()+"\"")
		return p.refuse(h)
	}
	if len(p.allowDomains) > 0 && !p.allowed(rcpt) {
		h.Log(sluice.LevelInfo, "recipient <"+rcpt+"> is outside allow_recipient_domains")
		return p.refuse(h)
	}
	return sluice.VerdictContinue
}

func (p *access) refuse(h sluice.Host) sluice.Verdict {
	return p.reply.Refuse(h)
}

// allowed reports whether the recipient's domain matches
// allow_recipient_domains. "postmaster" with no domain must always be
// accepted (RFC 5321 §4.5.1).
func (p *access) allowed(rcpt string) bool {
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return strings.EqualFold(rcpt, "postmaster")
	}
	domain := strings.TrimSuffix(rcpt[at+1:], ".")
	return firstMatch(p.allowDomains, domain) != nil
}

func firstMatch(globs []*glob.Glob, s string) *glob.Glob {
	for _, g := range globs {
		if g.Match(s) {
			return g
		}
	}
	return nil
}
