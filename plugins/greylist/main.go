// Command greylist is a Sluice plugin for triplet greylisting: mail from a
// client network, sender and recipient never seen before is deferred once,
// on the assumption that a real MTA retries (RFC 5321 §4.5.4.1) and a
// spam-sending script does not.
//
// It keeps its state in the plugin key/value store (sdk/ABI.md §4.8), so
// its policy block needs the grant:
//
//	plugin "greylist" {
//	  path   = "bin/plugins/greylist.wasm"
//	  grants = ["kv"]
//	  config = {
//	    delay            = "5m"    # default 5m: a retry must wait this long
//	    retry_window     = "48h"   # default 48h: and come within this long
//	    pass_ttl         = "35d"   # default 35d: passed triplets are kept this long after their last use
//	    auto_allow_after = 5       # default 5: passed triplets that allow the whole network; 0 disables
//	    ipv4_prefix      = 24      # default 24 (1 to 32)
//	    ipv6_prefix      = 64      # default 64 (1 to 128)
//	    allow_clients    = ["192.0.2.0/24", "2001:db8::1"]
//	    allow_recipients = ["postmaster@*", "abuse@example.org"]
//	    code             = 451     # default 451, must be 4xx
//	    enhanced         = "4.7.1" # default 4.7.1
//	    message          = "Greylisted, please try again later"
//	    on_kv_error      = "tempfail" # default; or "continue" (see below)
//	  }
//	}
//
// on_kv_error is what happens when the store cannot answer (a shared Redis
// that is down or slow: TEMPERROR, sdk/ABI.md §4.8): "tempfail" (the
// default) defers the recipient with 451 4.3.0, "continue" lets the mail
// through ungreylisted. See README.md for why tempfail is the default.
//
// Durations are Go durations ("90s", "5m", "48h") or whole days ("35d").
// The store's longest lifetime is 2^31-1 ms, about 24.8 days (ABI §4.8):
// longer durations are capped there. Because a passed triplet is refreshed
// by every message that uses it, a pass_ttl beyond the cap only shortens
// the life of triplets unused for that long. delay and retry_window must
// stay below the cap, and delay below retry_window.
//
// At RCPT, the triplet is the client network (the client address masked to
// ipv4_prefix or ipv6_prefix bits), the sender lower-cased ("<>" for the
// null sender) and the recipient lower-cased. Then:
//   - a recipient matching allow_recipients (globs on the whole address,
//     '*' any run of bytes, '?' one byte, case-insensitive for ASCII), a
//     client inside allow_clients (CIDRs or addresses), or a client address
//     the host does not give passes;
//   - a client network auto-allowed, or a triplet that passed before,
//     passes, and its lifetime restarts at pass_ttl;
//   - a triplet first seen less than delay ago is deferred again;
//   - a triplet first seen between delay and retry_window ago passes: it is
//     recorded as passed, and the client network's count of passed triplets
//     goes up; at auto_allow_after the network is auto-allowed for pass_ttl;
//   - any other triplet is recorded as first seen now and deferred.
//
// A deferral is code enhanced message ("451 4.7.1 Greylisted, please try
// again later"), a tempfail. Time is the store's: the plugin never reads a
// clock, it only sets lifetimes (a "wait" key living delay, a "seen" key
// living retry_window), so deciding follows the host's expiry exactly.
// Keys longer than the store's 256 bytes have their sender and recipient
// replaced by an FNV-64a hash.
//
// When the store is full (the plugin's kv_quota, ABI §4.8), a new triplet
// that cannot be recorded passes rather than being deferred (it could
// never pass otherwise), and the refusal is logged as a warning; a raise
// of kv_quota or keys expiring restore greylisting.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o greylist.wasm ./plugins/greylist
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&greylist{}) }

func main() {}
