package bridge

import (
	"net/netip"

	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/smtpd"
)

// replyNotPeer greets, and closes, a client that connects straight to a
// Sluice in Postfix's smtpd_proxy_filter mode. It is permanent, like
// Postfix's own "Client host rejected": such a client is never allowed.
var replyNotPeer = smtp.NewReply(554, "5.7.1", "Client host rejected: this port accepts only Postfix's proxy filter connections")

// refuseOutsider returns the reply that refuses ci, or nil. With upstream
// xforward = true Sluice sits behind Postfix's smtpd_proxy_filter, and its
// downstream is an after-filter listener that trusts Sluice to have been
// reached through Postfix's public smtpd (which made the relay decision):
// XFORWARD does not change that listener's relay decision. A client that
// reached Sluice's port directly would be relayed, so only the networks in
// listen { xforward_peers } (Postfix) may connect; policy decoding refuses
// the mode without them.
func refuseOutsider(gen *Generation, ci smtpd.ConnInfo) *smtp.Reply {
	p := gen.Policy
	if !p.Upstream.XForward || p.Upstream.Address == "" {
		return nil
	}
	ap, err := netip.ParseAddrPort(addrString(ci.RemoteAddr))
	if err == nil {
		ip := ap.Addr().Unmap()
		for _, n := range p.Listen.XForwardPeers {
			if n.Contains(ip) {
				return nil
			}
		}
	}
	gen.log.Warn("client refused: in proxy-filter mode (upstream xforward) only listen xforward_peers may connect",
		"session", ci.ID, "client", addrString(ci.RemoteAddr))
	return replyNotPeer
}
