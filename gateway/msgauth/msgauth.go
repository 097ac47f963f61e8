// Package msgauth evaluates the authentication of a message: SPF (RFC 7208),
// DKIM signatures (RFC 6376) and DMARC (RFC 7489), through the gateway's
// resolver.
package msgauth

import (
	"context"
	"net"
	"strings"

	"github.com/sluice-mail/sluice/gateway/dns"
	"github.com/sluice-mail/sluice/gateway/message"
)

// Checks selects what Evaluate runs; values combine with |.
type Checks int

// The checks.
const (
	CheckSPF   Checks = 1
	CheckDKIM  Checks = 2
	CheckDMARC Checks = 4 // implies CheckSPF and CheckDKIM
)

// DefaultMaxVerifications is the number of DKIM signatures verified per
// message when Options.MaxVerifications is 0 (RFC 6376 §6.1 lets a
// verifier limit it).
const DefaultMaxVerifications = 5

// Input is what is known of the message being checked.
type Input struct {
	ClientIP net.IP
	Helo     string
	MailFrom string           // reverse path; "" is the null sender
	Message  *message.Message // nil before the data phase (then only SPF can run)
}

// Options configure Evaluate.
type Options struct {
	Resolver         dns.Resolver // gateway/dns; required
	MaxVerifications int          // DKIM signatures verified per message; 0 means 5
}

// Result is what the auth_check host function returns as JSON (the JSON
// below is normative, sdk/ABI.md §4.11).
type Result struct {
	SPF   *SPFResult   `json:"spf,omitempty"`
	DKIM  []DKIMResult `json:"dkim,omitempty"` // when checked: one entry per signature verified, or one {"result":"none"}
	DMARC *DMARCResult `json:"dmarc,omitempty"`
	// ResInfo is the results rendered for an Authentication-Results field
	// (see Result.Format), set by Evaluate.
	ResInfo string `json:"resinfo,omitempty"`
}

// SPFResult is the outcome of check_host() for one identity (RFC 7208 §4).
type SPFResult struct {
	Result   string `json:"result"`   // none neutral pass fail softfail temperror permerror (RFC 7208 §2.6)
	Identity string `json:"identity"` // "mailfrom", or "helo" when MAIL FROM is the null sender (RFC 7208 §2.4)
	Domain   string `json:"domain"`   // the domain whose policy was checked
	Sender   string `json:"sender"`   // the MAIL FROM address, or "postmaster@" + HELO
	Reason   string `json:"reason,omitempty"`
}

// DKIMResult is the outcome of verifying one DKIM-Signature field (RFC 6376
// §6), named as in RFC 8601 §2.7.1.
type DKIMResult struct {
	Result     string `json:"result"`               // none pass fail neutral temperror permerror policy (RFC 8601 §2.7.1)
	Domain     string `json:"domain,omitempty"`     // d=
	Selector   string `json:"selector,omitempty"`   // s=
	Identifier string `json:"identifier,omitempty"` // i= (AUID)
	Algorithm  string `json:"algorithm,omitempty"`  // a=
	Signature  string `json:"b,omitempty"`          // the first 12 characters of b= (RFC 8601 header.b, RFC 6008)
	Reason     string `json:"reason,omitempty"`
}

// DMARCResult is the outcome of DMARC policy discovery and identifier
// alignment (RFC 7489 §3.1, §6.6).
type DMARCResult struct {
	Result       string `json:"result"`                  // none pass fail temperror permerror
	FromDomain   string `json:"from_domain"`             // RFC5322.From domain ("" if none could be parsed)
	PolicyDomain string `json:"policy_domain,omitempty"` // where the record was found (From domain or its organizational domain)
	Policy       string `json:"policy,omitempty"`        // the policy that applies: none, quarantine, reject (sp= for subdomains when set)
	Percent      int    `json:"pct"`                     // pct=, 100 when absent; 0 when there is no record
	SPFAligned   bool   `json:"spf_aligned"`
	DKIMAligned  bool   `json:"dkim_aligned"`
	Reason       string `json:"reason,omitempty"`
}

// Evaluate runs the requested checks. It never fails: DNS failures become
// temperror results, broken records permerror, as the RFCs say. ctx bounds
// all lookups (the caller gives it a deadline). DKIM and DMARC need
// in.Message; without it they are left out of the Result. When DMARC is
// asked for, the SPF and DKIM results it was computed from are included.
//
// SPF runs concurrently with DKIM; the message is rendered once.
func Evaluate(ctx context.Context, in Input, what Checks, o Options) Result {
	if what&CheckDMARC != 0 {
		what |= CheckSPF | CheckDKIM
	}
	if in.Message == nil {
		what &^= CheckDKIM | CheckDMARC
	}
	res := o.Resolver
	if res == nil {
		res = failingResolver{}
	}
	nr := netResolver{r: res, ipv4Only: in.ClientIP.To4() != nil}
	max := o.MaxVerifications
	if max <= 0 {
		max = DefaultMaxVerifications
	}

	// One after the other: with answers in the resolver's cache both take
	// microseconds, and handing SPF to another goroutine cost more (a
	// thread wake-up) than it saved.
	var out Result
	if what&CheckSPF != 0 {
		out.SPF = checkSPF(ctx, in, nr)
	}
	if what&CheckDKIM != 0 {
		out.DKIM = checkDKIM(ctx, in.Message.Bytes(), max, nr.txtFunc(ctx))
	}
	if what&CheckDMARC != 0 {
		out.DMARC = checkDMARC(in.Message, out.SPF, out.DKIM, nr.txtFunc(ctx))
	}
	out.ResInfo = out.Format()
	return out
}

// maxReason bounds a Reason.
const maxReason = 200

// reason makes s fit for a Reason: library prefixes removed, printable
// ASCII only (names from DNS or the message may hold anything), bounded.
func reason(s string) string {
	s = strings.TrimPrefix(s, "dkim: ")
	s = strings.TrimPrefix(s, "dmarc: ")
	if len(s) > maxReason {
		s = s[:maxReason]
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
