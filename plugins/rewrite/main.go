// Command rewrite is a Sluice plugin that rewrites sender and recipient
// addresses through alias tables: in the envelope and, if asked, in the
// From, Reply-To, To and Cc header fields.
//
// It changes the envelope, so its policy block needs grants = ["envelope"]
// (sdk/ABI.md §4.6); without it the policy does not load.
//
// Policy configuration (HCL, handed to the plugin as JSON):
//
//	grants = ["envelope"]
//	config = {
//	  senders = {
//	    "old@example.org"   = "new@example.org"    # one address
//	    "@olddomain.example" = "@newdomain.example" # a whole domain
//	  }
//	  recipients = {
//	    "postmaster@example.org" = "admin@example.org"
//	    "@legacy.example"        = "@example.org"
//	  }
//	  headers = false # true: also rewrite From/Reply-To and To/Cc
//	}
//
// A key is either an address local@domain, mapped to an address, or a domain
// written @domain, mapped to a domain: the local part is kept as written and
// only the domain is replaced. Keys match case-insensitively (ASCII); an
// @domain key matches that domain only, not its subdomains; an address entry
// wins over a domain entry. Rewriting is one step: the result is not looked
// up again. Configure refuses keys or values that are not plain addresses
// (dot-atom local part, RFC 5321 §4.1.2) or domains, address keys mapped to
// domains or the reverse, and keys given twice in different case.
//
// Sender: the reverse path is rewritten at MAIL (mail_set, sdk/ABI.md §4.6),
// so the MAIL command sent downstream already carries the new address. The
// null sender <> is never rewritten.
//
// Recipients: the envelope can only change at the end of DATA, so
// recipients are rewritten in the data phase: each new address is added,
// then each old one removed. The host forwards each distinct recipient
// once, so two recipients mapped to the same address get one copy.
//
// Headers (headers = true, data phase): the senders table applies to the
// addresses of From and Reply-To, the recipients table to those of To and Cc
// (every occurrence of each field). The value is read as an RFC 5322 §3.4
// address list: quoted strings, comments, angle addresses <a@b>, bare
// addresses a@b and groups "name: a@b, c@d;" are recognised, and only the
// bytes of a matched address are replaced; display names, comments, folding
// and every other byte stay as they were. An element the plugin does not
// understand (a quoted or domain-literal address, a route, text after an
// angle address) is left alone and logged; a field whose structure is broken
// (an unterminated quote, comment or bracket, a nested or unterminated group)
// is left alone entirely and logged. A field rendered by the host as
// "Name: value" gains one space when it had none after the colon.
//
// A rewritten address longer than 254 bytes (RFC 5321 §4.5.3.1.3), or a
// header line that would exceed 998 bytes (RFC 5322 §2.1.1), is skipped
// with a warning rather than passed to the host, which would refuse it.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rewrite.wasm ./plugins/rewrite
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&rewriter{}) }

func main() {}
