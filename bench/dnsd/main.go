// Command dnsd answers DNS queries over UDP from a zone file, for the
// benchmark: the docs/DESIGN.md §6 chain evaluates SPF, DKIM and DMARC with "DNS
// answered locally". It is authoritative for what the file holds: NXDOMAIN
// for other names, NODATA for other types.
//
//	dnsd -listen 127.0.0.1:5353 -zone bench/bench.zone
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"

	mdns "github.com/miekg/dns"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5353", "UDP address to answer on")
	zone := flag.String("zone", "", "zone file (RFC 1035 master format)")
	flag.Parse()
	records, err := load(*zone)
	if err != nil {
		log.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		_ = w.WriteMsg(answer(records, q))
	})}
	log.Fatal(srv.ActivateAndServe())
}

// load reads the zone into records by lower-case owner name.
func load(path string) (map[string][]mdns.RR, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	records := map[string][]mdns.RR{}
	zp := mdns.NewZoneParser(f, ".", path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := strings.ToLower(rr.Header().Name)
		records[name] = append(records[name], rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("zone: %w", err)
	}
	return records, nil
}

// answer builds the reply to q.
func answer(records map[string][]mdns.RR, q *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return m
	}
	qq := q.Question[0]
	rrs, ok := records[strings.ToLower(qq.Name)]
	if !ok {
		m.Rcode = mdns.RcodeNameError
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == qq.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	return m
}
