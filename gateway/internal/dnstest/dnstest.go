// Package dnstest runs a small authoritative DNS server on 127.0.0.1 for
// tests: it answers UDP queries from zone-file text (RFC 1035 §5), with
// NXDOMAIN for unknown names and NODATA for known names without the asked
// type, so the gateway's real resolver client is exercised end to end.
package dnstest

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Server is a running test DNS server.
type Server struct {
	// Addr is host:port on 127.0.0.1, for a policy's resolver block.
	Addr    string
	queries atomic.Int64
}

// Queries is the number of queries answered so far.
func (s *Server) Queries() int64 { return s.queries.Load() }

// Start serves zone (master-file text; $ORIGIN and $TTL allowed) until the
// test ends, answering SERVFAIL for the names in servfail. A record that
// does not parse fails the test.
func Start(t testing.TB, zone string, servfail ...string) *Server {
	t.Helper()
	var rrs []mdns.RR
	zp := mdns.NewZoneParser(strings.NewReader(zone), ".", "zone")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return StartRecords(t, rrs, servfail...)
}

// StartRecords is Start with parsed records.
func StartRecords(t testing.TB, rrs []mdns.RR, servfail ...string) *Server {
	t.Helper()
	records := map[string][]mdns.RR{} // lower-case FQDN -> records
	for _, rr := range rrs {
		name := strings.ToLower(rr.Header().Name)
		records[name] = append(records[name], rr)
	}
	failing := map[string]bool{}
	for _, n := range servfail {
		failing[strings.ToLower(mdns.Fqdn(n))] = true
	}
	s := &Server{}
	s.Addr = Serve(t, mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		s.queries.Add(1)
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if len(q.Question) != 1 {
			m.Rcode = mdns.RcodeFormatError
			_ = w.WriteMsg(m)
			return
		}
		qq := q.Question[0]
		if failing[strings.ToLower(qq.Name)] {
			m.Rcode = mdns.RcodeServerFailure
			_ = w.WriteMsg(m)
			return
		}
		rrs, known := records[strings.ToLower(qq.Name)]
		if !known {
			m.Rcode = mdns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == qq.Qtype || rr.Header().Rrtype == mdns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
		size := mdns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
		_ = w.WriteMsg(m)
	}))
	return s
}

// Serve answers UDP queries on 127.0.0.1 with h until the test ends, and
// returns the server's host:port.
func Serve(t testing.TB, h mdns.Handler) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("dnstest: the server did not start")
	}
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}
