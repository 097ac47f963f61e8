// Command dkim-sign is a Sluice plugin that DKIM-signs outgoing messages
// (RFC 6376) with the keys the policy grants it. The private keys never
// enter the plugin: it picks a key and asks the host to sign (sdk/ABI.md
// §4.10).
//
//	dkim_key "example" {
//	  domain           = "example.org"
//	  selector         = "s2026"
//	  private_key_file = "/etc/sluice/dkim/example.pem"
//	}
//
//	plugin "dkim-sign" {
//	  wasm   = "bin/plugins/dkim-sign.wasm"
//	  grants = ["dkim:example"]
//	  config = {
//	    headers          = ["From", "To", "Subject", "Date"] # default: the host's list
//	    canonicalization = "relaxed/relaxed"                 # or relaxed/simple, simple/relaxed, simple/simple
//	    expiration       = "0s"                              # x= lifetime; "0s" = none
//	    sign_unmatched   = ""                                # key for a From domain no key matches
//	    on_refusal       = "continue"                        # or "tempfail"
//	  }
//	}
//
// At data, the domain of the message's single From address is matched
// against the granted keys: a key whose domain equals the From domain or is
// a parent of it (example.org signs for news.example.org) matches, compared
// case-insensitively, and the longest matching domain wins. Every granted
// key of that domain signs, in key-name order, so an RSA and an Ed25519 key
// of one domain give the two signatures RFC 8463 §4 recommends. When no
// key matches, the sign_unmatched key signs if set, else the message passes
// unsigned.
//
// Tags: "dkim.signed" is "d=DOMAIN s=SELECTOR" for the signature made
// (several joined by ", "), or "no" when the message was not signed. When
// the message cannot be signed (no From field, several, or a reason the
// host gives), "dkim.refused" holds the reason, it is logged at info, and
// the message continues unsigned, or is deferred with "451 4.7.0" when
// on_refusal is "tempfail".
//
// Put this plugin last in the data chain: a change made after signing to
// the body or to a signed field breaks the signature.
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&signer{}) }

func main() {}
