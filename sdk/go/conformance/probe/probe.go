// Package probe is the Go SDK's probe plugin (sdk/CONFORMANCE.md §2): it
// records what the host shows it in tags, answers every verdict on demand
// and makes every kind of plugin error, so the suite in gateway/conformance
// can compare it byte for byte with the other SDKs. The command in the
// parent directory registers it for WebAssembly; the suite also runs it
// natively through sdk/go/sluicetest, on the gateway's plugin contract.
package probe

import (
	"strconv"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// lang is the probe's <lang> value.
const lang = "go"

// chunk is the body read buffer: scratch space reused by every data call,
// never state between calls (sdk/ABI.md §3). A package variable keeps 64 KiB
// off the garbage-collected heap of each call.
var chunk [65536]byte

// Probe is the probe plugin.
type Probe struct{}

func (Probe) OnConnect(h sluice.Host) sluice.Verdict {
	ip, _ := h.Info(sluice.InfoClientIP)
	h.SetTag("probe.connect", ip)
	return sluice.VerdictContinue
}

func (Probe) OnHelo(h sluice.Host) sluice.Verdict {
	helo, _ := h.Info(sluice.InfoHelo)
	h.SetTag("probe.helo", helo)
	return sluice.VerdictContinue
}

// OnMail answers the verdict or plugin error named by the sender's local
// part.
func (Probe) OnMail(h sluice.Host) sluice.Verdict {
	from, _ := h.Info(sluice.InfoMailFrom)
	h.SetTag("probe.mail", from)
	switch localPart(from) {
	case "reject":
		return sluice.Reject(h, 550, "5.7.1", "probe reject")
	case "tempfail":
		return sluice.Tempfail(h, 451, "4.7.1", "probe tempfail")
	case "accept":
		return sluice.VerdictAccept
	case "discard":
		return sluice.VerdictDiscard
	case "quarantine":
		h.SetReply(550, "5.7.1", "probe quarantine") // the reason the host records
		return sluice.VerdictQuarantine
	case "badverdict":
		return sluice.Verdict(7)
	case "badreply":
		h.SetReply(250, "2.0.0", "ok") // traps: not a 4xx or 5xx reply
	case "crlfreply":
		h.SetReply(550, "5.7.1", "x\r\n250 OK") // traps: CR LF in the text
	case "mismatch":
		h.SetReply(451, "4.7.1", "wrong class")
		return sluice.VerdictReject
	case "trap":
		panic("probe trap")
	}
	return sluice.VerdictContinue
}

func (Probe) OnRcpt(h sluice.Host) sluice.Verdict {
	h.SetTag("probe.rcpt.count", strconv.Itoa(h.RcptCount()))
	rcpt, _ := h.Info(sluice.InfoRcpt)
	if localPart(rcpt) == "blocked" {
		return sluice.Reject(h, 550, "5.7.1", "probe blocked")
	}
	return sluice.VerdictContinue
}

func (Probe) OnData(h sluice.Host) sluice.Verdict {
	// 1. Every header field as the host shows it.
	n := h.HeaderCount()
	sum := uint32(fnvBasis)
	for i := 0; i < n; i++ {
		name, _ := h.HeaderName(i)
		value, _ := h.HeaderValue(i)
		sum = fnv(sum, name)
		sum = fnv(sum, ":")
		sum = fnv(sum, value)
		sum = fnv(sum, "\n")
	}
	h.SetTag("probe.headers", hex(sum))
	h.SetTag("probe.header.count", strconv.Itoa(n))

	// 2. The second Subject field.
	if i, ok := h.FindHeader("subject", 1); ok {
		v, _ := h.HeaderValue(i)
		h.SetTag("probe.subject2", v)
	}

	// 3. The body, in chunks of at most 64 KiB.
	sum, total := uint32(fnvBasis), 0
	for {
		k, err := h.BodyReadAt(chunk[:], int64(total))
		sum = fnvBytes(sum, chunk[:k])
		total += k
		if err != nil || k == 0 {
			break
		}
	}
	h.SetTag("probe.body.len", strconv.Itoa(total))
	h.SetTag("probe.body.sum", hex(sum))

	// 4. The configuration, exactly as handed over.
	cfg := h.Config()
	h.SetTag("probe.config.len", strconv.Itoa(len(cfg)))
	h.SetTag("probe.config.sum", hex(fnvBytes(fnvBasis, cfg)))

	// 5. Mutations.
	if i, ok := h.FindHeader("X-Probe-Delete", 0); ok {
		h.DeleteHeader(i)
	}
	if i, ok := h.FindHeader("X-Probe-Change", 0); ok {
		h.ChangeHeader(i, "changed")
	}
	h.InsertHeader(0, "X-Probe-Top", "1")
	h.AddHeader("X-Probe", lang)
	if _, ok := h.FindHeader("X-Probe-Body", 0); ok {
		h.ReplaceBody([]byte("replaced\r\n"))
		h.AppendBody([]byte("appended\r\n"))
	}
	return sluice.VerdictContinue
}

// localPart returns the bytes before the last '@' of addr; "" when there is
// no '@'.
func localPart(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[:i]
}

// FNV-1a, 32 bits.
const (
	fnvBasis = 2166136261
	fnvPrime = 16777619
)

func fnv(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnvPrime
	}
	return h
}

func fnvBytes(h uint32, b []byte) uint32 {
	for _, c := range b {
		h = (h ^ uint32(c)) * fnvPrime
	}
	return h
}

// hex writes h as 8 lowercase hex digits.
func hex(h uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[h&0xf]
		h >>= 4
	}
	return string(b[:])
}
