package msgauth

import (
	"context"
	"strings"

	"blitiri.com.ar/go/spf"
)

// checkSPF runs check_host() (RFC 7208 §4) for the MAIL FROM identity, or
// for the HELO identity when MAIL FROM is the null sender (RFC 7208 §2.4),
// with "postmaster" as the local part (§4.3).
func checkSPF(ctx context.Context, in Input, nr netResolver) *SPFResult {
	r := &SPFResult{Identity: "mailfrom", Sender: in.MailFrom}
	var domain, sender string
	if in.MailFrom == "" {
		r.Identity = "helo"
		domain = in.Helo
		r.Sender = "postmaster@" + in.Helo
		sender = r.Sender
	} else {
		at := strings.LastIndexByte(in.MailFrom, '@')
		if at < 0 {
			r.Result, r.Reason = string(spf.None), "MAIL FROM has no domain"
			return r
		}
		local := in.MailFrom[:at]
		domain = in.MailFrom[at+1:]
		sender = in.MailFrom
		// The library takes the domain after the first "@"; a quoted
		// local part holding "@" would make it check another domain.
		if local == "" || strings.IndexByte(local, '@') >= 0 {
			sender = "postmaster@" + domain
		}
	}
	r.Domain = normalizeDomain(domain)
	if !validSPFDomain(domain) {
		// §4.3: a malformed or single-label domain gives "none".
		r.Result, r.Reason = string(spf.None), "malformed domain"
		return r
	}
	if in.ClientIP.To16() == nil {
		r.Result, r.Reason = string(spf.None), "client IP unknown"
		return r
	}
	res, err := spf.CheckHostWithSender(in.ClientIP, in.Helo, sender,
		spf.WithResolver(nr), spf.WithContext(ctx))
	r.Result = string(res)
	if err != nil {
		r.Reason = reason(err.Error())
	}
	return r
}

// normalizeDomain lower-cases d and drops a final dot.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(d), ".")
}

// validSPFDomain: at least two labels of 1 to 63 bytes, at most 253 bytes
// in all, no whitespace or control characters (RFC 7208 §4.3, RFC 1035
// §2.3.4).
func validSPFDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if len(d) == 0 || len(d) > 253 || d[0] == '[' { // "[192.0.2.1]": an address literal
		return false
	}
	labels := 0
	start := 0
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			if n := i - start; n < 1 || n > 63 {
				return false
			}
			labels++
			start = i + 1
			continue
		}
		if d[i] <= ' ' || d[i] == 0x7f || d[i] == '@' {
			return false
		}
	}
	return labels >= 2
}
