// Command ratelimit is a Sluice plugin that limits how many commands a
// client address, sender, sender domain or recipient may get through in a
// fixed window of time.
//
// It counts in the plugin key/value store (sdk/ABI.md §4.8), so its policy
// block needs the grant:
//
//	plugin "ratelimit" {
//	  path   = "bin/plugins/ratelimit.wasm"
//	  grants = ["kv"]
//	  config = {
//	    rules = [
//	      { key = "client_ip",     limit = 100,  window = "1h", phase = "mail" },
//	      { key = "sender_domain", limit = 1000, window = "1d" },          # phase mail by default
//	      { key = "recipient",     limit = 50,   window = "10m" },         # phase rcpt by default
//	    ]
//	    code     = 451      # default 451; a 5xx code rejects instead
//	    enhanced = "4.7.1"  # default X.7.1, X the class of code
//	    message  = "Rate limit exceeded, try again later"
//	    on_kv_error = "continue" # default; or "tempfail" (see below)
//	  }
//	}
//
// on_kv_error is what happens when the store cannot answer (a shared Redis
// that is down or slow: TEMPERROR, sdk/ABI.md §4.8): "continue" (the
// default) lets the command through uncounted, "tempfail" defers it with
// 451 4.3.0. See README.md for why continue is the default.
//
// Rule keys: "client_ip" (the client address, IPv4-mapped IPv6 as IPv4),
// "sender" (the reverse path lower-cased for ASCII, "<>" for the null
// sender), "sender_domain" (the sender's domain lower-cased; the null sender
// and addresses without a domain are not counted) and "recipient" (the
// recipient lower-cased, phase rcpt only). phase is "mail" (once per
// transaction) or "rcpt" (once per recipient); it defaults to "rcpt" for
// "recipient" and to "mail" for the others. limit is at least 1; window is
// a Go duration ("90s", "1h") or whole days ("1d"), from 1s up to the
// store's longest lifetime, 2^31-1 ms (about 24.8 days). Two rules may not
// share key, phase and window (they would share a counter).
//
// Counting is a fixed window: each rule's counter for a value is created
// by kv_incr with the window as its lifetime, and kv_incr keeps that
// lifetime, so the window starts at the first counted command and the
// counter starts over once it expires. The plugin never reads a clock. The
// rules of the hook's phase are checked in order; each is counted (the
// command is counted whether or not it is then refused, later plugins
// included), and the first whose count exceeds its limit refuses the
// command with code enhanced message: a 4xx code is a tempfail, a 5xx code
// a reject. Rules after it are not counted for that command. Store keys
// longer than 256 bytes have their value replaced by its FNV-64a hash.
//
// When the store is full (the plugin's kv_quota, ABI §4.8), a value whose
// counter cannot be created is not counted, and a warning is logged:
// refusing instead would refuse every new client, sender or recipient.
// Counters already in the store keep counting.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ratelimit.wasm ./plugins/ratelimit
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&ratelimit{}) }

func main() {}
