package policy

import (
	"net/netip"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/upstream"
)

var upstreamSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address"},
		{Name: "maildir"},
		{Name: "helo"},
		{Name: "connect_timeout"},
		{Name: "command_timeout"},
		{Name: "data_timeout"},
		{Name: "xclient"},
		{Name: "xforward"},
		{Name: "tls"},
		{Name: "tls_ca_file"},
		{Name: "tls_server_name"},
	},
}

// postfixProxyTimeout is Postfix's default smtpd_proxy_timeout: in
// before-queue mode Postfix gives up on us after this long, so our wait for
// the downstream's final reply must end first.
const postfixProxyTimeout = 100 * time.Second

func defaultUpstream(hostname string) Upstream {
	return Upstream{
		Helo:           hostname,
		ConnectTimeout: upstream.DefaultConnectTimeout,
		CommandTimeout: upstream.DefaultCommandTimeout,
		DataTimeout:    upstream.DefaultDataTimeout,
		TLS:            UpstreamTLSNone,
	}
}

func (d *decoder) upstream(b *hcl.Block, l *Listen) Upstream {
	u := defaultUpstream(l.Hostname)
	u.Range = b.DefRange
	c, diags := b.Body.Content(upstreamSchema)
	d.diags = append(d.diags, diags...)
	a := c.Attributes

	switch addr, dir := a["address"], a["maildir"]; {
	case addr != nil && dir != nil:
		d.errorf(dir.Range, "Conflicting upstream",
			"An upstream has either address (an SMTP server) or maildir (a local directory), not both; address is set at %s.", pos(addr.Range))
	case addr == nil && dir == nil:
		d.errorf(b.DefRange, "Missing upstream destination",
			"Set address = \"host:port\" to forward to an SMTP server, or maildir = \"path\" to store mail in a local Maildir.")
	}
	if attr := a["address"]; d.str(attr, &u.Address) && !validHostPort(u.Address, false) {
		d.errorf(attr.Range, "Invalid address",
			"%q is not host:port (for example \"127.0.0.1:10025\").", u.Address)
		u.Address = ""
	}
	d.path(a["maildir"], &u.Maildir)

	var helo string
	if attr := a["helo"]; d.str(attr, &helo) {
		if validHeloName(helo) {
			u.Helo = helo
		} else {
			d.errorf(attr.Range, "Invalid hostname",
				"%q is not a domain name or address literal (RFC 5321 §4.1.2).", helo)
		}
	}

	d.boolean(a["xclient"], &u.XClient)
	d.boolean(a["xforward"], &u.XForward)
	for _, x := range []struct {
		name string
		on   bool
	}{{"xclient", u.XClient}, {"xforward", u.XForward}} {
		if x.on && a["maildir"] != nil {
			d.errorf(a[x.name].Range, "Identity passing needs an SMTP upstream",
				"%s passes the client's identity to a downstream SMTP server; a maildir upstream has none.", x.name)
		}
	}

	d.relayMode(a, &u, l)
	d.upstreamTLS(a, &u)

	d.duration(a["connect_timeout"], &u.ConnectTimeout, true, 0)
	d.duration(a["command_timeout"], &u.CommandTimeout, true, 0)
	if attr := a["data_timeout"]; attr != nil {
		d.duration(attr, &u.DataTimeout, true, 0)
		if u.DataTimeout >= postfixProxyTimeout {
			d.warnf(attr.Range, "Upstream data timeout too long",
				"data_timeout must be below Postfix's smtpd_proxy_timeout of 100s (Postfix would give up on Sluice before the downstream answers).")
		}
	}
	return u
}

// upstreamTLS decodes the STARTTLS settings toward the downstream. The
// default is none: Sluice's downstream is normally Postfix on the same host
// or network segment, where encryption costs CPU per connection and protects
// nothing; set "required" when the hop crosses a network you do not trust.
func (d *decoder) upstreamTLS(a hcl.Attributes, u *Upstream) {
	d.enum(a["tls"], &u.TLS, UpstreamTLSNone, UpstreamTLSOpportunistic, UpstreamTLSRequired)
	if attr := a["tls_ca_file"]; d.path(attr, &u.TLSCAFile) {
		u.TLSCAFileRange = attr.Range
	}
	var name string
	if attr := a["tls_server_name"]; d.str(attr, &name) {
		if _, err := netip.ParseAddr(name); err == nil || validDomain(name) {
			u.TLSServerName = name
		} else {
			d.errorf(attr.Range, "Invalid server name",
				"%q is not a domain name or IP address that a certificate could name.", name)
		}
	}
	if a["maildir"] != nil {
		for _, name := range []string{"tls", "tls_ca_file", "tls_server_name"} {
			if attr := a[name]; attr != nil && (name != "tls" || u.TLS != UpstreamTLSNone) {
				d.errorf(attr.Range, "STARTTLS needs an SMTP upstream",
					"%s applies to the connection to a downstream SMTP server; a maildir upstream has none.", name)
			}
		}
		return
	}
	for _, x := range []struct {
		name, why string
		set, used bool
	}{
		{"tls_ca_file", "only tls = \"required\" verifies the certificate", u.TLSCAFile != "", u.TLS == UpstreamTLSRequired},
		{"tls_server_name", "no STARTTLS is sent", u.TLSServerName != "", u.TLS != UpstreamTLSNone},
	} {
		if x.set && !x.used {
			d.warnf(a[x.name].Range, "Unused TLS setting",
				"%s is ignored with tls = %q: %s.", x.name, u.TLS, x.why)
		}
	}
}

// relayMode checks that an SMTP upstream cannot turn Sluice into an open
// relay. The downstream decides relaying on the address of the client it
// sees; without XCLIENT that is Sluice's own, usually a loopback address
// that Postfix trusts (mynetworks), so every client would be trusted.
//
//   - xclient = true (MX front): Postfix judges the real client.
//   - xforward = true (Postfix's smtpd_proxy_filter): XFORWARD changes only
//     what Postfix logs, so Sluice itself refuses every client that is not
//     one of listen { xforward_peers } (bridge.Backend); the mode without
//     peers would refuse everyone and is an error.
//   - neither: a warning, since a downstream that does not trust Sluice's
//     address (or a non-Postfix MTA) can be safe.
func (d *decoder) relayMode(a hcl.Attributes, u *Upstream, l *Listen) {
	addr := a["address"]
	if addr == nil || u.Address == "" || a["maildir"] != nil {
		return
	}
	switch {
	case u.XForward && len(l.XForwardPeers) == 0 && a["xforward"] != nil:
		d.errorf(a["xforward"].Range, "Proxy-filter mode without xforward_peers",
			"xforward = true is Postfix's smtpd_proxy_filter mode, in which Sluice refuses (554 5.7.1) every client that is not one of listen { xforward_peers }, since XFORWARD does not change Postfix's relay decision; "+
				"set xforward_peers to the address Postfix connects from, for example [\"127.0.0.1/32\"].")
	case !u.XClient && !u.XForward:
		d.diags = append(d.diags, OpenRelayWarning(d.file, &addr.Range))
	}
}

// OpenRelayWarning is the warning about an SMTP upstream that receives no
// client identity: reported at rng by `sluice check` and `sluice serve`.
func OpenRelayWarning(file string, rng *hcl.Range) *hcl.Diagnostic {
	return Warning(file, rng, "Possible open relay",
		"this SMTP upstream has neither xclient nor xforward, so the downstream MTA sees every client as Sluice's own address; "+
			"stock Postfix trusts loopback (mynetworks) and would relay mail from anyone to anywhere. "+
			"Set xclient = true and list Sluice in Postfix's smtpd_authorized_xclient_hosts (MX front), "+
			"or xforward = true with listen { xforward_peers } behind Postfix's smtpd_proxy_filter (examples/postfix).")
}
