// Command access is a Sluice plugin with sender and recipient access lists.
//
// Policy configuration (HCL, handed to the plugin as JSON):
//
//	config = {
//	  deny_senders            = ["*@spam.example", ""]   # "" is the null sender <>
//	  deny_recipients         = ["abuse-test@example.org"]
//	  allow_recipient_domains = ["example.org", "*.example.org"]
//	  code                    = 550        # default 550; a 4xx code tempfails
//	  enhanced                = "5.7.1"    # default 5.7.1 (4.7.1 for a 4xx code)
//	  message                 = "Access denied"
//	}
//
// At MAIL the sender is refused when it matches a deny_senders pattern. At
// RCPT a recipient is refused when it matches a deny_recipients pattern, or
// when allow_recipient_domains is not empty and the recipient's domain
// matches none of its patterns ("postmaster" without a domain is always let
// through, RFC 5321 §4.5.1). The reply is the configured one; a 4xx code
// gives a tempfail, a 5xx code a reject.
//
// Patterns are globs on the whole address (or domain), compared
// case-insensitively for ASCII: '*' matches any run of bytes, '?' exactly
// one byte, every other byte itself. Matching takes time linear in the
// address, whatever the pattern.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o access.wasm ./plugins/access
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&access{}) }

func main() {}
