package main

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// tagListed is the session tag holding the zone that listed the client.
const tagListed = "dnsbl.listed"

// maxTXT is the longest reply text taken from a TXT record.
const maxTXT = 200

// OnConnect looks the client up in each zone; the first listing wins.
func (p *dnsbl) OnConnect(h sluice.Host) sluice.Verdict {
	ipText, ok := h.Info(sluice.InfoClientIP)
	if !ok {
		return sluice.VerdictContinue
	}
	ip, err := netip.ParseAddr(ipText)
	if err != nil {
		h.Log(sluice.LevelWarn, "client address is not an IP address: lookup skipped")
		return sluice.VerdictContinue
	}
	rev := reversed(ip.Unmap())
	for _, zone := range p.zones {
		name := rev + "." + zone
		if !p.listed(h, name, zone) {
			continue
		}
		h.SetTag(tagListed, zone)
		h.Log(sluice.LevelInfo, "client "+ip.String()+" listed by "+zone)
		if p.tag {
			return sluice.VerdictContinue
		}
		return sluice.Refuse(h, p.code, p.enhanced, p.replyText(h, name, zone))
	}
	return sluice.VerdictContinue
}

// OnData adds X-DNSBL in tag mode when the client was listed.
func (p *dnsbl) OnData(h sluice.Host) sluice.Verdict {
	if !p.tag {
		return sluice.VerdictContinue
	}
	if zone, ok := h.Tag(tagListed); ok {
		h.AddHeader("X-DNSBL", zone)
	}
	return sluice.VerdictContinue
}

// listed reports whether the A records of name hold a listing address
// (127.0.0.0/8, RFC 5782 §2.1) other than an error code (127.255.255.0/24).
func (p *dnsbl) listed(h sluice.Host, name, zone string) bool {
	recs, err := h.DNSLookup("A", name)
	switch {
	case err == nil:
	case errors.Is(err, sluice.ErrNotFound):
		return false
	default:
		h.Log(sluice.LevelWarn, "lookup in "+zone+" failed temporarily: client not checked there")
		return false
	}
	for _, r := range recs {
		a, err := netip.ParseAddr(r)
		if err != nil || !a.Is4() {
			continue
		}
		b := a.As4()
		if b[0] != 127 {
			continue
		}
		if b[1] == 255 && b[2] == 255 {
			h.Log(sluice.LevelWarn, zone+" answered the error code "+r+": not counted as a listing")
			continue
		}
		return true
	}
	return false
}

// replyText is the zone's TXT record for name, sanitized, or the
// configured message.
func (p *dnsbl) replyText(h sluice.Host, name, zone string) string {
	recs, err := h.DNSLookup("TXT", name)
	if err == nil && len(recs) > 0 {
		if t := sanitize(recs[0]); t != "" {
			return t
		}
	}
	return p.text(zone)
}

// sanitize keeps the printable ASCII and spaces of s, the other bytes
// turned into spaces, trimmed and cut at maxTXT bytes.
func sanitize(s string) string {
	b := make([]byte, 0, min(len(s), maxTXT))
	for i := 0; i < len(s) && len(b) < maxTXT; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = ' '
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

// reversed is the query prefix of ip: the octets of an IPv4 address in
// reverse order, or the nibbles of an IPv6 address in reverse order
// (RFC 5782 §2.1, §2.4).
func reversed(ip netip.Addr) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	if ip.Is4() {
		o := ip.As4()
		for i := 3; i >= 0; i-- {
			if i < 3 {
				b.WriteByte('.')
			}
			b.WriteString(strconv.Itoa(int(o[i])))
		}
		return b.String()
	}
	o := ip.As16()
	for i := 15; i >= 0; i-- {
		if i < 15 {
			b.WriteByte('.')
		}
		b.WriteByte(hex[o[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[o[i]>>4])
	}
	return b.String()
}
