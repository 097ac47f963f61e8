// Command auth-results is a Sluice plugin that has the host check a
// message's SPF (RFC 7208), DKIM signatures (RFC 6376) and DMARC (RFC
// 7489), records the results in tags for later plugins (dmarc, say), and
// adds an Authentication-Results field (RFC 8601) for the mailbox store
// downstream.
//
//	plugin "auth-results" {
//	  wasm    = "bin/plugins/auth-results.wasm"
//	  grants  = ["dns"]
//	  timeout = "5s"
//	  config = {
//	    authserv_id    = "mx.example.org" # required: the name downstream trusts
//	    remove_foreign = false            # also remove other servers' fields
//	    header         = true             # false: tags only
//	  }
//	}
//
// Put it first in the data chain: DKIM verifies the message as earlier
// plugins left it. Its timeout must cover the lookups (sdk/ABI.md §4.11).
//
// Incoming Authentication-Results fields whose authserv-id is ours, compared
// case-insensitively, are forgeries or left from an earlier pass: they are
// removed (RFC 8601 §5), and with remove_foreign every incoming
// Authentication-Results field is. ARC-Authentication-Results fields are
// left alone. The removal happens even when header is false. Then one field
// is inserted at the top of the header:
//
//	Authentication-Results: mx.example.org;
//		dkim=pass header.d=example.org header.s=s1 header.b=Xe7vYNdIe8Ro;
//		spf=pass smtp.mailfrom=alice@example.org;
//		dmarc=pass header.from=example.org
//
// with one dkim= result per signature verified (dkim=none without any), SPF
// of the HELO name as smtp.helo for the null sender, a short printable
// reason as a comment after its result, and each result on a line of its
// own, folded further where a line would exceed 78 bytes. Every value taken
// from the message or DNS is reduced to printable ASCII without whitespace
// and ;()"\, and quoted where RFC 8601 §2.2 needs it.
//
// Tags: auth.spf (the SPF result), auth.dkim (pass when any signature
// passed, else the first result other than none, else none),
// auth.dkim.domains (the d= of the passing signatures, space-separated),
// auth.dmarc, auth.dmarc.policy (none, quarantine, reject, or empty
// without a record), auth.dmarc.pct and auth.dmarc.domain (the From
// domain). The plugin always continues: it reports, the dmarc plugin acts.
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&authResults{}) }

func main() {}
