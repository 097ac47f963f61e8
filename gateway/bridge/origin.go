package bridge

import (
	"context"
	"maps"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/smtpd"
	"github.com/sluice-mail/sluice/gateway/upstream"
)

// originState is what smtpd told the session of where each transaction
// comes from (smtpd.Origin), and the identity the downstream connection was
// opened with.
type originState struct {
	proto     string            // "ESMTP" or "SMTP"; "" until the first Origin
	forwarded map[string]string // XFORWARD attributes of the current transaction
	peer      *peerIdentity     // the connected peer, saved when XFORWARD first replaced it
	opened    upstream.Identity // what the current downstream connection was opened with
}

// peerIdentity is the connected peer's own identity in filter.Session.
type peerIdentity struct {
	ip   netip.Addr
	port int
	name string
}

var _ smtpd.OriginSession = (*session)(nil)

// Origin implements smtpd.OriginSession; smtpd calls it before each Mail.
// Attributes from an authorized XFORWARD peer (Postfix's smtpd_proxy_filter)
// describe the original client: they replace the peer's address, port, name
// and HELO in filter.Session for this transaction, so plugins and the
// downstream see who really sent the mail. A transaction without them gets
// the peer's own values back. When the identity the downstream connection
// was opened with no longer matches, the connection is given up, so that
// XCLIENT and XFORWARD never speak for the wrong client.
func (s *session) Origin(ctx context.Context, o smtpd.Origin) {
	s.origin.proto = o.Proto
	s.origin.forwarded = o.XForward
	if o.XForward != nil || s.origin.peer != nil {
		s.applyForwarded(o)
	}
	if s.up != nil && !sameIdentity(s.origin.opened, s.identity()) {
		s.dropUpstream()
	}
}

// applyForwarded sets filter.Session's client fields from the peer's own
// identity overlaid with the XFORWARD attributes. [UNAVAILABLE] and
// [TEMPUNAVAIL] mean unknown: the field is left empty.
func (s *session) applyForwarded(o smtpd.Origin) {
	if s.origin.peer == nil {
		s.origin.peer = &peerIdentity{ip: s.info.ClientIP, port: s.info.ClientPort, name: s.info.ClientName}
	}
	p := s.origin.peer
	s.info.ClientIP, s.info.ClientPort, s.info.ClientName, s.info.Helo = p.ip, p.port, p.name, o.Helo
	for k, v := range o.XForward {
		known := v != "[UNAVAILABLE]" && v != "[TEMPUNAVAIL]"
		switch k {
		case "ADDR":
			s.info.ClientIP = netip.Addr{}
			if a, err := netip.ParseAddr(trimIPv6Prefix(v)); known && err == nil {
				s.info.ClientIP = a.Unmap()
			}
		case "PORT":
			s.info.ClientPort, _ = strconv.Atoi(v)
		case "NAME":
			s.info.ClientName = ""
			if known {
				s.info.ClientName = v
			}
		case "HELO":
			s.info.Helo = ""
			if known {
				s.info.Helo = v
			}
		case "PROTO":
			if p := strings.ToUpper(v); p == "SMTP" || p == "ESMTP" {
				s.origin.proto = p
			}
		}
	}
}

// trimIPv6Prefix removes Postfix's "IPV6:" prefix from an address.
func trimIPv6Prefix(v string) string {
	if len(v) > 5 && strings.EqualFold(v[:5], "IPV6:") {
		return v[5:]
	}
	return v
}

// identity is the client of the current transaction, for the downstream.
func (s *session) identity() upstream.Identity {
	id := upstream.Identity{
		SessionID:  s.info.ID,
		ClientPort: s.info.ClientPort,
		ClientName: s.info.ClientName,
		Helo:       s.info.Helo,
		Proto:      s.origin.proto,
		Forwarded:  s.origin.forwarded,
	}
	if s.info.ClientIP.IsValid() {
		id.ClientIP = s.info.ClientIP.String()
	}
	return id
}

func sameIdentity(a, b upstream.Identity) bool {
	return a.SessionID == b.SessionID && a.ClientIP == b.ClientIP && a.ClientPort == b.ClientPort &&
		a.ClientName == b.ClientName && a.Helo == b.Helo && a.Proto == b.Proto && maps.Equal(a.Forwarded, b.Forwarded)
}
