// Command spamassassin is a Sluice plugin that has SpamAssassin's spamd
// score each message, adds the usual X-Spam-* fields, and rejects at or
// above reject_score (see README.md). The host speaks the SPAMC/SPAMD
// protocol (sdk/ABI.md §4.12); the policy declares the scanner:
//
//	scanner "sa" {
//	  spamd = "tcp://127.0.0.1:783"
//	}
//	plugin "spamassassin" {
//	  wasm   = "bin/plugins/spamassassin.wasm"
//	  grants = ["scan:sa"]
//	  config = { scanner = "sa", reject_score = 10 }
//	}
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&spamassassin{}) }

func main() {}
