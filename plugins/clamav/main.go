// Command clamav is a Sluice plugin that has ClamAV's clamd scan each
// message for viruses and rejects (or quarantines) an infected one (see
// README.md). The host speaks clamd's INSTREAM protocol (sdk/ABI.md §4.12);
// the policy declares the scanner:
//
//	scanner "virus" {
//	  clamd = "unix:/run/clamav/clamd.ctl"
//	}
//	plugin "clamav" {
//	  wasm   = "bin/plugins/clamav.wasm"
//	  grants = ["scan:virus"]
//	  config = { scanner = "virus" }
//	}
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&clamav{}) }

func main() {}
