package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"errors"
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Key prefixes in the store. A triplet has up to three keys: "w" (wait)
// lives delay from first sight, "s" (seen) lives retry_window from first
// sight, "p" (passed) lives pass_ttl from its last use. A network has a
// counter "n" of passed triplets and, once auto-allowed, a key "a".
const (
	prefixWait    = "gl1:w:"
	prefixSeen    = "gl1:s:"
	prefixPassed  = "gl1:p:"
	prefixCount   = "gl1:n:"
	prefixAllowed = "gl1:a:"
)

// OnRcpt greylists the triplet of the client network, the sender and the
// recipient being checked.
func (p *greylist) OnRcpt(h sluice.Host) sluice.Verdict {
	rcpt, _ := h.Info(sluice.InfoRcpt)
	for _, g := range p.allowRcpts {
		if g.Match(rcpt) {
			return sluice.VerdictContinue
		}
	}
	ipText, _ := h.Info(sluice.InfoClientIP)
	ip, err := netip.ParseAddr(ipText)
	if err != nil {
		h.Log(sluice.LevelWarn, "client address "+strconv.Quote(ipText)+" is not an IP address: not greylisting")
		return sluice.VerdictContinue
	}
	ip = ip.Unmap().WithZone("")
	for _, pfx := range p.allowClients {
		if pfx.Contains(ip) {
			return sluice.VerdictContinue
		}
	}

	network := p.network(ip)
	allowed, err := p.has(h, prefixAllowed+network)
	if err != nil {
		return p.kvError(h, err)
	}
	if allowed {
		p.set(h, prefixAllowed+network, p.passTTL) // a refresh: the key stays if refused
		return sluice.VerdictContinue
	}
	from, _ := h.Info(sluice.InfoMailFrom)
	if from == "" {
		from = "<>"
	}
	t := tripletKey(network, glob.Lower(from), glob.Lower(rcpt))
	passed, err := p.has(h, prefixPassed+t)
	if err != nil {
		return p.kvError(h, err)
	}
	if passed {
		p.set(h, prefixPassed+t, p.passTTL)
		return sluice.VerdictContinue
	}
	seen, err := p.has(h, prefixSeen+t)
	if err != nil {
		return p.kvError(h, err)
	}
	if seen {
		wait, err := p.has(h, prefixWait+t)
		if err != nil {
			return p.kvError(h, err)
		}
		if wait {
			return p.deferral(h, "retried too early")
		}
		p.pass(h, network, t)
		return sluice.VerdictContinue
	}
	err = p.set(h, prefixSeen+t, p.retryWindow)
	if err == nil {
		err = p.set(h, prefixWait+t, p.delay)
	}
	switch {
	case errors.Is(err, sluice.ErrTemporary):
		return p.kvError(h, err)
	case err != nil:
		// A triplet that cannot be recorded could never pass: deferring
		// it would defer the mail until the store has room. Let it
		// through instead, as for a client that cannot be greylisted.
		h.KVDelete(prefixSeen + t)
		return sluice.VerdictContinue
	}
	return p.deferral(h, "first seen")
}

// has reports whether key is in the store; the error is the store's
// (sluice.ErrTemporary: it could not answer).
func (p *greylist) has(h sluice.Host, key string) (bool, error) {
	_, ok, err := h.KVGet(key)
	return ok, err
}

// kvError is the verdict when the key/value store could not answer
// (sdk/ABI.md §4.8): on_kv_error "tempfail" (the default) defers the
// recipient, so that no triplet passes unchecked while a shared store is
// down; "continue" lets the mail through ungreylisted.
func (p *greylist) kvError(h sluice.Host, err error) sluice.Verdict {
	if p.onKVErrorContinue {
		h.Log(sluice.LevelWarn, "key/value store unavailable: not greylisting (on_kv_error = continue): "+err.Error())
		return sluice.VerdictContinue
	}
	h.Log(sluice.LevelWarn, "key/value store unavailable: deferring (on_kv_error = tempfail): "+err.Error())
	return sluice.Tempfail(h, 451, "4.3.0", "Temporary local problem, please try again later")
}

// set stores key with lifetime ttl. A full store (sluice.ErrQuota,
// kv_quota in the policy) or one that cannot answer (sluice.ErrTemporary)
// is logged, and the caller decides (sdk/ABI.md §4.8).
func (p *greylist) set(h sluice.Host, key string, ttl time.Duration) error {
	err := h.KVSet(key, []byte("1"), ttl)
	switch {
	case errors.Is(err, sluice.ErrQuota):
		h.Log(sluice.LevelWarn, "key/value store full (raise kv_quota): not greylisting: "+err.Error())
	case err != nil:
		h.Log(sluice.LevelWarn, "key/value store unavailable: "+err.Error())
	}
	return err
}

// pass records the triplet t as passed and counts it for its network. The
// triplet passes even if the store then fails: it was seen and waited.
func (p *greylist) pass(h sluice.Host, network, t string) {
	p.set(h, prefixPassed+t, p.passTTL) // refused: the triplet is greylisted again later
	h.KVDelete(prefixSeen + t)
	h.KVDelete(prefixWait + t)
	h.Log(sluice.LevelInfo, "greylist passed for client network "+network)
	if p.autoAllowAfter == 0 {
		return
	}
	n, err := h.KVIncr(prefixCount+network, 1, p.passTTL)
	if err != nil {
		h.Log(sluice.LevelWarn, "key/value store full or unavailable: passed triplets of "+network+" not counted: "+err.Error())
		return
	}
	if int(n) >= p.autoAllowAfter && p.set(h, prefixAllowed+network, p.passTTL) == nil {
		h.KVDelete(prefixCount + network)
		h.Log(sluice.LevelInfo, "client network "+network+" auto-allowed after "+strconv.Itoa(int(n))+" passed triplets")
	}
}

func (p *greylist) deferral(h sluice.Host, why string) sluice.Verdict {
	h.Log(sluice.LevelDebug, "greylisted: "+why)
	return sluice.Tempfail(h, p.reply.Code, p.reply.Enhanced, p.reply.Text)
}

// network returns the client network of ip as a masked CIDR prefix.
func (p *greylist) network(ip netip.Addr) string {
	bits := p.v6bits
	if ip.Is4() {
		bits = p.v4bits
	}
	pfx, _ := ip.Prefix(bits) // bits is within range: checked in Configure
	return pfx.String()
}

// tripletKey is the store key suffix of a triplet. When the longest key
// ("gl1:x:" + it) would exceed the store's limit, sender and recipient are
// replaced by the FNV-64a hash of both.
func tripletKey(network, from, rcpt string) string {
	k := network + "\x00" + from + "\x00" + rcpt
	if len(prefixPassed)+len(k) <= abi.KVMaxKey {
		return k
	}
	f := fnv.New64a()
	f.Write([]byte(from))
	f.Write([]byte{0})
	f.Write([]byte(rcpt))
	return network + "\x00#" + strconv.FormatUint(f.Sum64(), 16)
}
