// Command limits is a Sluice plugin that limits message size and recipient
// count per sender, per sender domain, or by default.
//
// Policy configuration (HCL, handed to the plugin as JSON):
//
//	config = {
//	  default = { max_size = "10MiB", max_rcpts = 100 }
//	  senders = { "bulk@example.org" = { max_size = "50MiB", max_rcpts = 1000 } }
//	  domains = { "example.org" = { max_rcpts = 500 } }
//	  code_size      = 552     # default 552
//	  enhanced_size  = "5.3.4" # default X.3.4, X the class of code_size
//	  code_rcpts     = 452     # default 452
//	  enhanced_rcpts = "4.5.3" # default X.5.3, X the class of code_rcpts
//	}
//
// A size is a whole number of bytes, or a string "<n>" or "<n><unit>" with
// unit B, KiB, MiB or GiB (powers of 1024; case-insensitive; a space before
// the unit is allowed). Decimal units (KB, MB) are refused as ambiguous.
// Limits must be at least 1; a limit that is not set anywhere is no limit.
//
// The most specific level wins, field by field: the entry of the exact
// sender address, then the entry of the sender's domain, then default; a
// field a level does not set is inherited from the next less specific one.
// Sender keys are addresses, domain keys are domains without '@'; both match
// case-insensitively (ASCII), a domain matches only itself, not its
// subdomains. The null sender <> gets the default. The sender is read in each
// phase (mail.from), so a plugin that rewrote it earlier in the chain
// decides which entry applies.
//
// Enforcement:
//   - MAIL: when the SIZE parameter (RFC 1870 §6) declares more than
//     max_size, the command gets code_size enhanced_size "Message size
//     exceeds fixed maximum message size", before any data is sent. A SIZE
//     value that is not 1 to 20 digits is ignored (the check at DATA still
//     applies); 20 digits beyond 2^64-1 count as too big.
//   - RCPT: when the recipients already accepted plus this one exceed
//     max_rcpts, the recipient gets code_rcpts enhanced_rcpts "Too many
//     recipients". With the default 452 4.5.3 the client delivers to the
//     accepted recipients and retries the rest later (RFC 5321 §4.5.3.1.10).
//   - DATA: when the message exceeds max_size, it gets the size reply. The
//     size counted is the message as the host holds it when the plugin runs
//     (changes of earlier plugins included), with CRLF line endings and
//     without dot-stuffing, as RFC 1870 defines it: for each header field,
//     len(name) + 2 (": ") + len(value) + 2 (CRLF), where value is
//     header_value (folding included, one space after the colon removed);
//     then 2 for the empty line, then body_size. It is exact for fields
//     written "Name: value", one byte over for a field with no space after
//     its colon, and two bytes under for a body that does not end in CRLF
//     (which the host completes with one when it rewrites the message).
//
// A 4xx code gives a tempfail verdict, a 5xx code a reject; Configure
// refuses codes outside 400 to 599 and enhanced codes of another class.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o limits.wasm ./plugins/limits
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&limiter{}) }

func main() {}
