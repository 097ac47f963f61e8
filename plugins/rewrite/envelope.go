package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"errors"
	"fmt"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// OnMail rewrites the reverse path, so the MAIL command sent downstream
// already carries the new sender (sdk/ABI.md §4.6). The null sender is never
// rewritten.
func (p *rewriter) OnMail(h sluice.Host) sluice.Verdict {
	from, _ := h.Info(sluice.InfoMailFrom)
	to, ok := p.senders.lookup(from)
	if !ok || to == from {
		return sluice.VerdictContinue
	}
	if err := checkEnvelope(to); err != nil {
		sluice.Warnf(h, "sender <%s> not rewritten: <%s> %v", from, to, err)
		return sluice.VerdictContinue
	}
	h.SetMailFrom(to)
	sluice.Infof(h, "sender <%s> rewritten to <%s>", from, to)
	return sluice.VerdictContinue
}

// OnData rewrites the recipients, then the header fields if configured.
func (p *rewriter) OnData(h sluice.Host) sluice.Verdict {
	if !p.rcpts.empty() {
		p.rewriteRcpts(h)
	}
	if p.headers {
		p.rewriteHeaders(h)
	}
	return sluice.VerdictContinue
}

// rewriteRcpts makes the recipient list the set of rewritten recipients:
// every new address is added first, then every old one that is not also a
// target (of its own or another entry) is removed, so the list is never
// empty in between (removing the last recipient is a plugin error) and a
// swap a->b, b->a changes nothing it should not. Addresses are compared
// case-insensitively, as rcpt_remove compares them.
func (p *rewriter) rewriteRcpts(h sluice.Host) {
	rcpts := sluice.Rcpts(h)
	present := make(map[string]bool, len(rcpts))
	for _, r := range rcpts {
		present[glob.Lower(r)] = true
	}
	keep := make(map[string]bool, len(rcpts))
	queued := make(map[string]bool)
	var adds, removes []string
	for _, r := range rcpts {
		to, ok := p.rcpts.lookup(r)
		if ok {
			if err := checkEnvelope(r); err != nil {
				sluice.Warnf(h, "recipient <%s> not rewritten: it %v", r, err)
				ok = false
			} else if err := checkEnvelope(to); err != nil {
				sluice.Warnf(h, "recipient <%s> not rewritten: <%s> %v", r, to, err)
				ok = false
			}
		}
		if !ok || glob.Lower(to) == glob.Lower(r) {
			keep[glob.Lower(r)] = true
			continue
		}
		sluice.Infof(h, "recipient <%s> rewritten to <%s>", r, to)
		if !queued[glob.Lower(r)] {
			removes = append(removes, r)
			queued[glob.Lower(r)] = true
		}
		lt := glob.Lower(to)
		if !present[lt] && !keep[lt] {
			adds = append(adds, to)
		}
		keep[lt] = true
	}
	for _, a := range adds {
		h.AddRcpt(a)
	}
	for _, r := range removes {
		if keep[glob.Lower(r)] {
			continue
		}
		// Remove every copy of a recipient given twice; bounded by the
		// list length in case a host keeps reporting success.
		for range len(rcpts) {
			if !h.RemoveRcpt(r) {
				break
			}
		}
	}
}

// checkEnvelope applies the host's rules for an envelope address (sdk/ABI.md
// §4.6: at most 254 bytes, no white space, control characters or angle
// brackets). An address that breaks them, such as a quoted local part with a
// space, which SMTP allows, would make mail_set, rcpt_add or rcpt_remove a
// plugin error, so it is left alone.
func checkEnvelope(a string) error {
	if len(a) > maxAddress {
		return fmt.Errorf("is longer than %d bytes", maxAddress)
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return errors.New("has white space, a control character or an angle bracket")
		}
	}
	return nil
}
