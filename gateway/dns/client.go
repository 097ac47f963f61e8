package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Defaults of ClientOptions.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultCacheSize   = 10000
	maxNegativeTTL     = 60 * time.Second // RFC 2308 §5, capped
	defaultResolvConf  = "/etc/resolv.conf"
	fallbackServerAddr = "127.0.0.1:53"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// Servers are host:port addresses asked in order; empty: the
	// nameservers of /etc/resolv.conf, else 127.0.0.1:53.
	Servers []string
	// Timeout bounds each query to one server; 0 means DefaultTimeout.
	Timeout time.Duration
	// CacheSize bounds the number of cached answers; 0 means
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Client is a Resolver that queries DNS servers directly: UDP first, TCP
// when the answer is truncated (RFC 7766 §5).
type Client struct {
	servers []string
	timeout time.Duration
	cache   *cache
	now     func() time.Time
}

// NewClient returns a Client for opts.
func NewClient(opts ClientOptions) *Client {
	c := &Client{servers: opts.Servers, timeout: opts.Timeout, now: opts.Now}
	if len(c.servers) == 0 {
		c.servers = SystemServers()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	size := opts.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	c.cache = newCache(size)
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// SystemServers returns the nameservers of /etc/resolv.conf as host:port,
// or 127.0.0.1:53 when there are none.
func SystemServers() []string {
	cfg, err := mdns.ClientConfigFromFile(defaultResolvConf)
	if err != nil || len(cfg.Servers) == 0 {
		return []string{fallbackServerAddr}
	}
	out := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		out[i] = net.JoinHostPort(s, cfg.Port)
	}
	return out
}

// qtypes are the record types a Lookup may ask for.
var qtypes = map[string]uint16{
	"A": mdns.TypeA, "AAAA": mdns.TypeAAAA, "TXT": mdns.TypeTXT, "MX": mdns.TypeMX,
	"PTR": mdns.TypePTR, "NS": mdns.TypeNS, "CNAME": mdns.TypeCNAME,
}

// ValidType reports whether qtype is a type Lookup supports.
func ValidType(qtype string) bool {
	_, ok := qtypes[strings.ToUpper(qtype)]
	return ok
}

// Lookup implements Resolver. An unsupported qtype or an invalid name is
// ErrNotFound wrapped with the reason.
func (c *Client) Lookup(ctx context.Context, qtype, name string) ([]string, error) {
	qtype = strings.ToUpper(qtype)
	t, ok := qtypes[qtype]
	if !ok {
		return nil, fmt.Errorf("unsupported type %q: %w", qtype, ErrNotFound)
	}
	fqdn := mdns.Fqdn(strings.ToLower(name))
	if _, ok := mdns.IsDomainName(fqdn); !ok || name == "" {
		return nil, fmt.Errorf("invalid name %q: %w", name, ErrNotFound)
	}
	key := qtype + " " + fqdn
	if e, ok := c.cache.get(key, c.now()); ok {
		if e.notFound {
			return nil, ErrNotFound
		}
		return append([]string(nil), e.records...), nil
	}
	var last error = ErrTemporary
	for _, srv := range c.servers {
		recs, ttl, err := c.query(ctx, srv, fqdn, t)
		if err == nil || errors.Is(err, ErrNotFound) {
			c.cache.put(key, cacheEntry{records: recs, notFound: err != nil, expires: c.now().Add(ttl)}, c.now())
			if err != nil {
				return nil, ErrNotFound
			}
			return append([]string(nil), recs...), nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// query asks one server; the ttl is how long the answer may be cached.
func (c *Client) query(ctx context.Context, srv, fqdn string, t uint16) ([]string, time.Duration, error) {
	m := new(mdns.Msg)
	m.SetQuestion(fqdn, t)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	r, err := c.exchange(ctx, "udp", m, srv)
	if err == nil && r.Truncated {
		r, err = c.exchange(ctx, "tcp", m, srv)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w: %v", srv, ErrTemporary, err)
	}
	switch r.Rcode {
	case mdns.RcodeSuccess:
	case mdns.RcodeNameError:
		return nil, negativeTTL(r), ErrNotFound
	default:
		return nil, 0, fmt.Errorf("%s: %w: rcode %s", srv, ErrTemporary, mdns.RcodeToString[r.Rcode])
	}
	var recs []string
	var ttl uint32
	for i, rr := range r.Answer {
		s, ok := format(rr, t)
		if !ok {
			continue // e.g. the CNAME chain before the asked records
		}
		if i == 0 || rr.Header().Ttl < ttl || len(recs) == 0 {
			ttl = rr.Header().Ttl
		}
		recs = append(recs, s)
	}
	if len(recs) == 0 {
		return nil, negativeTTL(r), ErrNotFound
	}
	return recs, time.Duration(ttl) * time.Second, nil
}

func (c *Client) exchange(ctx context.Context, network string, m *mdns.Msg, srv string) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl := &mdns.Client{Net: network, Timeout: c.timeout}
	r, _, err := cl.ExchangeContext(ctx, m, srv)
	return r, err
}

// negativeTTL is the SOA minimum of a negative answer (RFC 2308 §5),
// capped at maxNegativeTTL; without an SOA, maxNegativeTTL.
func negativeTTL(r *mdns.Msg) time.Duration {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			ttl := min(soa.Minttl, soa.Hdr.Ttl)
			return min(time.Duration(ttl)*time.Second, maxNegativeTTL)
		}
	}
	return maxNegativeTTL
}

// format renders rr as text if it is of type t.
func format(rr mdns.RR, t uint16) (string, bool) {
	if rr.Header().Rrtype != t {
		return "", false
	}
	switch v := rr.(type) {
	case *mdns.A:
		return v.A.String(), true
	case *mdns.AAAA:
		return v.AAAA.String(), true
	case *mdns.TXT:
		var b strings.Builder
		for _, s := range v.Txt {
			unescapeTXT(&b, s)
		}
		return b.String(), true
	case *mdns.MX:
		return strconv.Itoa(int(v.Preference)) + " " + v.Mx, true
	case *mdns.PTR:
		return v.Ptr, true
	case *mdns.NS:
		return v.Ns, true
	case *mdns.CNAME:
		return v.Target, true
	}
	return "", false
}

// unescapeTXT writes the bytes of a TXT character-string to b. miekg/dns
// keeps TXT strings in master-file form (RFC 1035 §5.1), from the wire as
// from a zone file: '"' and '\\' come as \X and unprintable bytes as \DDD.
func unescapeTXT(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
