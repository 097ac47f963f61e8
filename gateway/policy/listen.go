package policy

import (
	"math"
	"os"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/smtpd"
)

var listenSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address"},
		{Name: "hostname"},
		{Name: "max_message_size"},
		{Name: "max_recipients"},
		{Name: "max_line_length"},
		{Name: "max_header_size"},
		{Name: "max_header_fields"},
		{Name: "command_timeout"},
		{Name: "data_timeout"},
		{Name: "junk_command_limit"},
		{Name: "hard_error_limit"},
		{Name: "max_connections"},
		{Name: "max_connections_per_ip"},
		{Name: "bare_lf"},
		{Name: "early_talker"},
		{Name: "greet_delay"},
		{Name: "xforward_peers"},
		{Name: "proxy_protocol"},
		{Name: "proxy_trusted"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cert_file"},
		{Name: "key_file"},
		{Name: "min_version"},
	},
}

// defaultListen is the listener with every default applied: the SMTP
// server's own defaults (package smtpd defines them once: Postfix's limits
// where it has one, RFC 5321 §4.5.3.2's timeouts), and the header limits
// that only the policy sets.
func defaultListen() Listen {
	return Listen{
		Hostname:            defaultHostname(),
		MaxMessageSize:      smtpd.DefaultMaxMessageSize,
		MaxRecipients:       smtpd.DefaultMaxRecipients,
		MaxLineLength:       smtpd.DefaultMaxLineLength,
		MaxHeaderSize:       512 * KiB,
		MaxHeaderFields:     10000,
		MaxConnections:      smtpd.DefaultMaxConnections,
		MaxConnectionsPerIP: smtpd.DefaultMaxConnectionsPerIP,
		CommandTimeout:      smtpd.DefaultCommandTimeout,
		DataTimeout:         smtpd.DefaultDataTimeout,
		JunkCommandLimit:    smtpd.DefaultJunkCommandLimit,
		HardErrorLimit:      smtpd.DefaultHardErrorLimit,
		BareLF:              BareLFNormalize,
		EarlyTalker:         EarlyTalkerReject,
	}
}

// defaultHostname is the machine's name, or "localhost" when it has none.
func defaultHostname() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

func (d *decoder) listen(b *hcl.Block) Listen {
	l := defaultListen()
	l.Range = b.DefRange
	c, diags := b.Body.Content(listenSchema)
	d.diags = append(d.diags, diags...)
	a := c.Attributes
	l.Ranges = map[string]hcl.Range{}
	for name, attr := range a {
		l.Ranges[name] = attr.Range
	}

	if a["address"] == nil {
		d.errorf(b.DefRange, "Missing required argument", "The argument \"address\" is required, but no definition was found.")
	}
	if attr := a["address"]; d.str(attr, &l.Address) && !validHostPort(l.Address, true) {
		d.errorf(attr.Range, "Invalid address",
			"%q is not host:port (for example \"127.0.0.1:2525\", \"[::1]:25\" or \":25\" for every address).", l.Address)
		l.Address = ""
	}
	var host string
	if attr := a["hostname"]; d.str(attr, &host) {
		if validHeloName(host) {
			l.Hostname = host
		} else {
			d.errorf(attr.Range, "Invalid hostname",
				"%q is not a domain name or address literal (RFC 5321 §4.1.2).", host)
		}
	}

	d.size(a["max_message_size"], &l.MaxMessageSize, 1, math.MaxInt64)
	d.integer(a["max_recipients"], &l.MaxRecipients, 1, math.MaxInt32)
	// RFC 5321 §4.5.3.1.6: a server must accept text lines of 1000 octets.
	d.integer(a["max_line_length"], &l.MaxLineLength, 1000, math.MaxInt32)
	headerSize := int64(l.MaxHeaderSize)
	d.size(a["max_header_size"], &headerSize, 1, math.MaxInt32)
	l.MaxHeaderSize = int(headerSize)
	d.integer(a["max_header_fields"], &l.MaxHeaderFields, 1, math.MaxInt32)
	d.integer(a["max_connections"], &l.MaxConnections, 1, math.MaxInt32)
	d.integer(a["max_connections_per_ip"], &l.MaxConnectionsPerIP, 1, math.MaxInt32)
	d.integer(a["junk_command_limit"], &l.JunkCommandLimit, 1, math.MaxInt32)
	d.integer(a["hard_error_limit"], &l.HardErrorLimit, 1, math.MaxInt32)

	d.duration(a["command_timeout"], &l.CommandTimeout, true, 0)
	d.duration(a["data_timeout"], &l.DataTimeout, true, 0)
	d.duration(a["greet_delay"], &l.GreetDelay, false, 0)

	d.enum(a["bare_lf"], &l.BareLF, BareLFNormalize, BareLFReject)
	d.enum(a["early_talker"], &l.EarlyTalker, EarlyTalkerReject, EarlyTalkerIgnore)

	d.prefixes(a["xforward_peers"], &l.XForwardPeers)
	d.proxyProtocol(a["proxy_protocol"], a["proxy_trusted"], &l)

	if tlsBlocks := c.Blocks; len(tlsBlocks) > 0 {
		for _, extra := range tlsBlocks[1:] {
			d.errorf(extra.DefRange, "Duplicate tls block",
				"A listen block has one tls block; the first is at %s.", pos(tlsBlocks[0].DefRange))
		}
		l.TLS = d.tls(tlsBlocks[0])
		l.Ranges["tls"] = tlsBlocks[0].DefRange
		if c, _ := tlsBlocks[0].Body.JustAttributes(); c != nil {
			for name, attr := range c {
				l.Ranges["tls."+name] = attr.Range
			}
		}
	}
	return l
}

// tls decodes the STARTTLS certificate (RFC 3207). TLS 1.0 and 1.1 are not
// offered (RFC 8996).
func (d *decoder) tls(b *hcl.Block) *TLS {
	t := &TLS{MinVersion: "1.2"}
	c, diags := b.Body.Content(tlsSchema)
	d.diags = append(d.diags, diags...)
	for _, name := range []string{"cert_file", "key_file"} {
		if c.Attributes[name] == nil {
			d.errorf(b.DefRange, "Missing required argument",
				"The argument %q is required, but no definition was found.", name)
		}
	}
	d.path(c.Attributes["cert_file"], &t.CertFile)
	d.path(c.Attributes["key_file"], &t.KeyFile)
	d.enum(c.Attributes["min_version"], &t.MinVersion, "1.2", "1.3")
	return t
}

// proxyProtocol decodes the PROXY protocol settings. Accepting the header
// from anyone would let any client claim any address, so proxy_protocol
// needs the load balancers' networks; without proxy_protocol those networks
// mean nothing, which a warning says.
func (d *decoder) proxyProtocol(on, trusted *hcl.Attribute, l *Listen) {
	d.boolean(on, &l.ProxyProtocol)
	before := len(d.diags)
	d.prefixes(trusted, &l.ProxyTrusted)
	reported := d.diags[before:].HasErrors() // bad entries: said already
	switch {
	case l.ProxyProtocol && len(l.ProxyTrusted) == 0 && !reported:
		d.errorf(on.Range, "Missing proxy_trusted",
			"proxy_protocol = true needs proxy_trusted, the networks of the load balancers that send the PROXY header (for example [\"10.0.0.0/24\"]); a header from anywhere else is refused.")
	case !l.ProxyProtocol && trusted != nil && len(l.ProxyTrusted) > 0:
		d.warnf(trusted.Range, "proxy_trusted without proxy_protocol",
			"proxy_trusted is ignored unless proxy_protocol = true.")
	}
}
