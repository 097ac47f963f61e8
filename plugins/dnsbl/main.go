// Command dnsbl is a Sluice plugin that checks the connecting client's
// address against DNS block lists (RFC 5782): the address, reversed, is
// looked up as an A record under each zone; an answer in 127.0.0.0/8 means
// the client is listed.
//
// It looks names up through the gateway's resolver (sdk/ABI.md §4.9), so
// its policy block needs the grant, and a timeout above the resolver's:
//
//	plugin "dnsbl" {
//	  path    = "bin/plugins/dnsbl.wasm"
//	  grants  = ["dns"]
//	  timeout = "5s"
//	  config = {
//	    zones    = ["zen.example"]  # at least one; checked in order
//	    mode     = "reject"         # default "reject"; or "tag"
//	    code     = 554              # default 554; 5xx or 4xx
//	    enhanced = "5.7.1"          # default 5.7.1 (4.7.1 for a 4xx code)
//	    message  = "Client listed by %zone%"
//	  }
//	}
//
// At connect, an IPv4 client a.b.c.d is looked up as d.c.b.a.<zone>, an
// IPv6 client as its 32 nibbles in reverse order (RFC 5782 §2.4). The
// first zone that lists the client wins: the session tag "dnsbl.listed" is
// set to the zone. Answers in 127.255.255.0/24 are the lists' error codes
// (such as 127.255.255.254, "query through a public resolver"): they are
// logged and count as not listed. A DNS failure is logged and the client
// passes: the plugin never refuses mail because DNS is down.
//
// In "reject" mode a listed client is refused with code: the reply text is
// the zone's TXT record for the same name (printable ASCII, cut at 200
// bytes) or else message with %zone% replaced by the zone. The gateway
// delays a connect-time refusal to the client's next command. In "tag"
// mode the client continues and, at data, the header "X-DNSBL: <zone>" is
// added to the message.
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&dnsbl{}) }

func main() {}
