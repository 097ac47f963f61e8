package policy

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Milter is the optional `milter` block: Sluice also serves the policy to
// an MTA over the milter protocol (Postfix's smtpd_milters), README
// "Milter mode".
type Milter struct {
	// Network is "tcp" or "unix"; Address is host:port or the socket path
	// (absolute) accordingly.
	Network string
	Address string

	Range        hcl.Range // the `milter` block header
	AddressRange hcl.Range
}

// String is the address as written in the policy ("unix:/path" for a
// socket).
func (m Milter) String() string {
	if m.Network == "unix" {
		return "unix:" + m.Address
	}
	return m.Address
}

var milterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "address", Required: true}},
}

// milterBlock decodes the optional, single milter block.
func (d *decoder) milterBlock(blocks hcl.Blocks) *Milter {
	c, defRange, ok := d.optionalContent(blocks, "milter", milterSchema)
	if !ok {
		return nil
	}
	m := &Milter{Range: defRange, Network: "tcp"}
	attr := c.Attributes["address"]
	if attr == nil || !d.str(attr, &m.Address) {
		return m
	}
	m.AddressRange = attr.Range
	if path, ok := strings.CutPrefix(m.Address, "unix:"); ok {
		m.Network = "unix"
		if path == "" {
			d.errorf(attr.Range, "Invalid milter address", "unix: needs a socket path, for example \"unix:/run/sluice/milter.sock\".")
			return m
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(d.dir, path)
		}
		m.Address = filepath.Clean(path)
		return m
	}
	if !validHostPort(m.Address, true) {
		d.errorf(attr.Range, "Invalid milter address",
			"address is %q, which is neither host:port (for example \"127.0.0.1:11332\") nor unix:PATH.", m.Address)
		return m
	}
	// The milter protocol has no authentication: whoever connects can have
	// the plugins judge and sign (dkim-sign) any message.
	host, _, _ := net.SplitHostPort(m.Address)
	if ip, err := netip.ParseAddr(host); err != nil || !ip.Unmap().IsLoopback() {
		d.diags = append(d.diags, Warning(d.file, &attr.Range, "Milter address not on loopback",
			fmt.Sprintf("%q accepts milter connections from other hosts; the milter protocol has no authentication, so any host that reaches it can have messages judged and signed. Use 127.0.0.1, ::1 or a unix socket, or firewall the port to the MTA.", m.Address)))
	}
	return m
}

// Fronts names the front ends the policy serves: "smtp" (the listen block)
// and "milter" (the milter block).
func (p *Policy) Fronts() []string {
	var f []string
	if !p.NoListen {
		f = append(f, "smtp "+p.Listen.Address)
	}
	if p.Milter != nil {
		f = append(f, "milter "+p.Milter.String())
	}
	return f
}
