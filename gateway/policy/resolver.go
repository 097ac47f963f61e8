package policy

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/dns"
)

var resolverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "servers"},
		{Name: "timeout"},
	},
}

// Resolver is the `resolver` block: where the plugins' DNS lookups (the
// "dns" grant, sdk/ABI.md §4.9) go.
type Resolver struct {
	// Servers are host:port; empty means the nameservers of
	// /etc/resolv.conf.
	Servers []string
	// Timeout bounds one query to one server.
	Timeout time.Duration
	Range   hcl.Range // the block header; zero when there is no block
}

const (
	defaultResolverTimeout = dns.DefaultTimeout
	maxResolverTimeout     = 30 * time.Second
)

// resolvers decodes the optional, single resolver block.
func (d *decoder) resolvers(blocks hcl.Blocks) Resolver {
	r := Resolver{Timeout: defaultResolverTimeout}
	c, defRange, ok := d.optionalContent(blocks, "resolver", resolverSchema)
	if !ok {
		return r
	}
	r.Range = defRange
	if attr := c.Attributes["servers"]; attr != nil {
		d.stringList(attr, &r.Servers)
		for i, s := range r.Servers {
			if !validHostPort(s, false) {
				d.errorf(attr.Range, "Invalid resolver server",
					"servers[%d] is %q, which is not host:port (for example \"127.0.0.1:53\").", i, s)
			}
		}
		if len(r.Servers) == 0 {
			d.errorf(attr.Range, "Empty resolver servers",
				"List at least one host:port, or remove servers to use /etc/resolv.conf.")
		}
	}
	d.duration(c.Attributes["timeout"], &r.Timeout, true, maxResolverTimeout)
	return r
}
