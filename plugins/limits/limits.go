package main

import (
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Reply texts. RFC 1870 §6 words the size reply.
const (
	textSize  = "Message size exceeds fixed maximum message size"
	textRcpts = "Too many recipients"
)

// limitFor returns the limits of sender and the level they come from, for
// the log: the sender's own entry, its domain's, or the default.
func (p *limiter) limitFor(sender string) (limit, string) {
	if sender == "" {
		return p.def, "default"
	}
	k := lower(sender)
	if l, ok := p.senders[k]; ok {
		return l, "sender"
	}
	if at := strings.LastIndexByte(k, '@'); at >= 0 {
		d := strings.TrimSuffix(k[at+1:], ".")
		if l, ok := p.domains[d]; ok {
			return l, "domain " + d
		}
	}
	return p.def, "default"
}

// current returns the limits of the sender of the transaction.
func (p *limiter) current(h sluice.Host) (limit, string, string) {
	from, _ := h.Info(sluice.InfoMailFrom)
	l, lvl := p.limitFor(from)
	return l, lvl, from
}

// OnMail refuses a message whose declared SIZE (RFC 1870 §6) exceeds the
// limit, so the client does not send it in vain.
func (p *limiter) OnMail(h sluice.Host) sluice.Verdict {
	l, lvl, from := p.current(h)
	if l.maxSize == 0 {
		return sluice.VerdictContinue
	}
	params, _ := h.Info(sluice.InfoMailParams)
	size, found, err := sizeParam(params)
	switch {
	case !found:
		return sluice.VerdictContinue
	case err != nil:
		sluice.Debugf(h, "SIZE parameter ignored: %v", err)
		return sluice.VerdictContinue
	case size > uint64(l.maxSize):
		sluice.Infof(h, "sender <%s> declared SIZE %d, above max_size %d (%s)", from, size, l.maxSize, lvl)
		return sluice.Refuse(h, p.size.code, p.size.enhanced, textSize)
	}
	return sluice.VerdictContinue
}

// OnRcpt refuses a recipient beyond the limit. rcpt_count does not count the
// recipient being checked.
func (p *limiter) OnRcpt(h sluice.Host) sluice.Verdict {
	l, lvl, from := p.current(h)
	if l.maxRcpts == 0 || h.RcptCount()+1 <= l.maxRcpts {
		return sluice.VerdictContinue
	}
	sluice.Infof(h, "sender <%s> reached max_rcpts %d (%s)", from, l.maxRcpts, lvl)
	return sluice.Refuse(h, p.rcpts.code, p.rcpts.enhanced, textRcpts)
}

// OnData refuses a message larger than the limit.
func (p *limiter) OnData(h sluice.Host) sluice.Verdict {
	l, lvl, from := p.current(h)
	if l.maxSize == 0 {
		return sluice.VerdictContinue
	}
	if size := messageSize(h); size > l.maxSize {
		sluice.Infof(h, "message from <%s> of %d bytes is above max_size %d (%s)", from, size, l.maxSize, lvl)
		return sluice.Refuse(h, p.size.code, p.size.enhanced, textSize)
	}
	return sluice.VerdictContinue
}

// messageSize is the size of the message as the host holds it: each field
// rendered "Name: value" CRLF, the empty line, the body. See the package
// comment for where it can differ from the bytes sent by a few bytes.
func messageSize(h sluice.Host) int64 {
	n := int64(2 + h.BodySize())
	for i := range h.HeaderCount() {
		name, _ := h.HeaderName(i)
		value, _ := h.HeaderValue(i)
		n += int64(len(name) + 2 + len(value) + 2)
	}
	return n
}
