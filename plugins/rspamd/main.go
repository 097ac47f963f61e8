// Command rspamd is a Sluice plugin that has rspamd judge each message and
// maps rspamd's action to a verdict (see README.md). The host speaks
// rspamd's protocol (sdk/ABI.md §4.12); the policy declares the scanner:
//
//	scanner "spam" {
//	  rspamd = "http://127.0.0.1:11333"
//	}
//	plugin "rspamd" {
//	  wasm   = "bin/plugins/rspamd.wasm"
//	  grants = ["scan:spam"]
//	  config = { scanner = "spam" }
//	}
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&rspamd{}) }

func main() {}
