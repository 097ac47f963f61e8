package msgauth

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/sluice-mail/sluice/gateway/dns"
)

// staticResolver answers from a map, in the text forms of dns.Client.
// Names listed in fail give ErrTemporary (a SERVFAIL) for every type.
type staticResolver struct {
	mu      sync.Mutex
	recs    map[string][]string // "TYPE name", name lower-case without final dot
	fail    map[string]bool
	queries []string // "TYPE name", in order
}

func newStatic() *staticResolver {
	return &staticResolver{recs: map[string][]string{}, fail: map[string]bool{}}
}

func canon(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

func (s *staticResolver) Lookup(ctx context.Context, qtype, name string) ([]string, error) {
	k := strings.ToUpper(qtype) + " " + canon(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, k)
	if ctx.Err() != nil || s.fail[canon(name)] {
		return nil, dns.ErrTemporary
	}
	if r, ok := s.recs[k]; ok && len(r) > 0 {
		return append([]string(nil), r...), nil
	}
	return nil, dns.ErrNotFound
}

// set replaces the records of one type at name.
func (s *staticResolver) set(qtype, name string, vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[qtype+" "+canon(name)] = vals
}

func (s *staticResolver) servfail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[canon(name)] = true
}

func (s *staticResolver) addRRs(rrs []mdns.RR) {
	for _, rr := range rrs {
		h := rr.Header()
		k := mdns.TypeToString[h.Rrtype] + " " + canon(h.Name)
		s.recs[k] = append(s.recs[k], formatRR(rr))
	}
}

// formatRR renders rr as dns.Client does.
func formatRR(rr mdns.RR) string {
	switch v := rr.(type) {
	case *mdns.A:
		return v.A.String()
	case *mdns.AAAA:
		return v.AAAA.String()
	case *mdns.TXT:
		return strings.Join(v.Txt, "")
	case *mdns.MX:
		return strconv.Itoa(int(v.Preference)) + " " + v.Mx
	case *mdns.PTR:
		return v.Ptr
	case *mdns.CNAME:
		return v.Target
	case *mdns.NS:
		return v.Ns
	}
	return ""
}

// readZone parses an RFC 1035 master file from testdata.
func readZone(t testing.TB, file string) []mdns.RR {
	t.Helper()
	f, err := os.Open("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := mdns.NewZoneParser(f, ".", file)
	var rrs []mdns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return rrs
}

// zoneResolver is a staticResolver loaded with zone files.
func zoneResolver(t testing.TB, files ...string) *staticResolver {
	s := newStatic()
	for _, f := range files {
		s.addRRs(readZone(t, f))
	}
	return s
}

// txtRR makes a TXT record, splitting long text into 255-byte strings.
func txtRR(name, text string) mdns.RR {
	var parts []string
	for len(text) > 255 {
		parts = append(parts, text[:255])
		text = text[255:]
	}
	parts = append(parts, text)
	return &mdns.TXT{Hdr: mdns.RR_Header{Name: mdns.Fqdn(name), Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 60}, Txt: parts}
}

// testCtx is a context with a deadline, so that no test can hang.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
