package msgauth

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/gateway/dns"
)

// netResolver serves the lookups of the SPF, DKIM and DMARC libraries from
// a dns.Resolver. Its errors are *net.DNSError values, unwrapped, because
// the libraries classify errors with type assertions: IsNotFound for
// dns.ErrNotFound (NXDOMAIN or NODATA), IsTemporary for anything else.
// It implements spf.DNSResolver.
type netResolver struct {
	r dns.Resolver
	// ipv4Only: the client connected over IPv4, so address lookups ask
	// only for A records. RFC 7208 §5.3–§5.5 look up the address type of
	// the connection, and §5.7 ("exists") always A; an IPv6 client needs
	// both.
	ipv4Only bool
}

// dnsError converts a dns.Resolver error into the *net.DNSError the
// libraries understand. The text never carries the resolver's own error
// (which can name servers); only the queried name.
func dnsError(name string, err error) error {
	if errors.Is(err, dns.ErrNotFound) {
		return &net.DNSError{Err: "no such record", Name: name, IsNotFound: true}
	}
	return &net.DNSError{Err: "temporary failure", Name: name, IsTemporary: true}
}

func (n netResolver) lookup(ctx context.Context, qtype, name string) ([]string, error) {
	recs, err := n.r.Lookup(ctx, qtype, name)
	if err != nil {
		return nil, dnsError(name, err)
	}
	return recs, nil
}

// LookupTXT returns one string per TXT record, its strings joined.
func (n netResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return n.lookup(ctx, "TXT", name)
}

// txtFunc adapts LookupTXT to the context-free form go-msgauth takes.
func (n netResolver) txtFunc(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) { return n.LookupTXT(ctx, name) }
}

// LookupMX parses the "preference host" answers of the resolver. Malformed
// answers are skipped; none left is a not-found answer.
func (n netResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	recs, err := n.lookup(ctx, "MX", name)
	if err != nil {
		return nil, err
	}
	mxs := make([]*net.MX, 0, len(recs))
	for _, r := range recs {
		pref, host, ok := strings.Cut(r, " ")
		p, perr := strconv.ParseUint(pref, 10, 16)
		if !ok || perr != nil || host == "" {
			continue
		}
		mxs = append(mxs, &net.MX{Host: host, Pref: uint16(p)})
	}
	if len(mxs) == 0 {
		return nil, dnsError(name, dns.ErrNotFound)
	}
	return mxs, nil
}

// LookupIPAddr asks for A records, and for an IPv6 client AAAA records too.
// Any addresses found are the answer; otherwise a temporary failure of
// either query wins over not-found.
func (n netResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	qtypes := []string{"A", "AAAA"}
	if n.ipv4Only {
		qtypes = qtypes[:1]
	}
	var addrs []net.IPAddr
	var tempErr error
	for _, qt := range qtypes {
		recs, err := n.r.Lookup(ctx, qt, host)
		if err != nil {
			if !errors.Is(err, dns.ErrNotFound) {
				tempErr = err
			}
			continue
		}
		for _, r := range recs {
			if ip := net.ParseIP(r); ip != nil {
				addrs = append(addrs, net.IPAddr{IP: ip})
			}
		}
	}
	switch {
	case len(addrs) > 0:
		return addrs, nil
	case tempErr != nil:
		return nil, dnsError(host, tempErr)
	}
	return nil, dnsError(host, dns.ErrNotFound)
}

// LookupAddr returns the PTR names of an address (RFC 1035 §3.5, RFC 3596
// §2.5).
func (n netResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip := net.ParseIP(addr)
	if ip == nil {
		return nil, dnsError(addr, dns.ErrNotFound)
	}
	return n.lookup(ctx, "PTR", reverseName(ip))
}

// reverseName is the in-addr.arpa or ip6.arpa name of ip.
func reverseName(ip net.IP) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	if v4 := ip.To4(); v4 != nil {
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(v4[i])))
			b.WriteByte('.')
		}
		b.WriteString("in-addr.arpa.")
		return b.String()
	}
	v6 := ip.To16()
	for i := len(v6) - 1; i >= 0; i-- {
		b.WriteByte(hex[v6[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[v6[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}

// failingResolver stands in for a missing Options.Resolver: every lookup is
// a temporary failure, so results are temperror rather than a panic.
type failingResolver struct{}

func (failingResolver) Lookup(context.Context, string, string) ([]string, error) {
	return nil, dns.ErrTemporary
}
