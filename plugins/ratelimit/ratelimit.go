package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"errors"
	"hash/fnv"
	"net/netip"
	"strconv"

	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// OnMail counts the rules of phase mail.
func (p *ratelimit) OnMail(h sluice.Host) sluice.Verdict { return p.check(h, p.mail) }

// OnRcpt counts the rules of phase rcpt.
func (p *ratelimit) OnRcpt(h sluice.Host) sluice.Verdict { return p.check(h, p.rcpt) }

func (p *ratelimit) check(h sluice.Host, rules []rule) sluice.Verdict {
	for _, r := range rules {
		v, ok := value(h, r.kind)
		if !ok {
			continue
		}
		n, err := h.KVIncr(storeKey(r.prefix, v), 1, r.window)
		if errors.Is(err, sluice.ErrTemporary) {
			// The store could not answer (a shared Redis that is down):
			// on_kv_error decides; by default the mail is not limited
			// rather than all mail deferred (README).
			if p.onKVErrorTempfail {
				h.Log(sluice.LevelWarn, "key/value store unavailable: deferring (on_kv_error = tempfail)")
				return sluice.Tempfail(h, 451, "4.3.0", "Temporary local problem, please try again later")
			}
			h.Log(sluice.LevelWarn, "key/value store unavailable: rate limit "+r.kind+" not counted (on_kv_error = continue)")
			continue
		}
		if err != nil {
			// A new counter does not fit in the plugin's kv_quota: this
			// value cannot be counted now. Refusing would refuse every
			// new client, sender or recipient until counters expire.
			h.Log(sluice.LevelWarn, "key/value store full (raise kv_quota): rate limit "+r.kind+" "+strconv.Quote(v)+" not counted")
			continue
		}
		if int(n) > r.limit {
			h.Log(sluice.LevelInfo, "rate limit "+r.kind+" "+strconv.Quote(v)+": "+strconv.Itoa(r.limit)+" per "+r.window.String()+" exceeded")
			return p.reply.Refuse(h)
		}
	}
	return sluice.VerdictContinue
}

// value returns what a rule of kind counts for this command, and false when
// there is nothing to count.
func value(h sluice.Host, kind string) (string, bool) {
	switch kind {
	case kindClientIP:
		s, ok := h.Info(sluice.InfoClientIP)
		if !ok || s == "" {
			return "", false
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			s = ip.Unmap().String()
		}
		return s, true
	case kindSender:
		from, _ := h.Info(sluice.InfoMailFrom)
		if from == "" {
			return "<>", true
		}
		return glob.Lower(from), true
	case kindSenderDomain:
		from, _ := h.Info(sluice.InfoMailFrom)
		d := sluice.Domain(from)
		return d, d != ""
	case kindRecipient:
		rcpt, ok := h.Info(sluice.InfoRcpt)
		return glob.Lower(rcpt), ok && rcpt != ""
	}
	return "", false
}

// storeKey is prefix+"="+v, or prefix+"#"+FNV-64a(v) in hex when that is
// longer than the store allows; the marker keeps the two forms apart.
func storeKey(prefix, v string) string {
	if len(prefix)+1+len(v) <= abi.KVMaxKey {
		return prefix + "=" + v
	}
	f := fnv.New64a()
	f.Write([]byte(v))
	return prefix + "#" + strconv.FormatUint(f.Sum64(), 16)
}
