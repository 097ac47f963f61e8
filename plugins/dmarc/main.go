// Command dmarc is a Sluice plugin that enforces the DMARC policy (RFC 7489
// §6.6.4) of the From domain on messages that fail DMARC. It decides on the
// results the auth-results plugin recorded in tags, so it must come after
// auth-results in the data chain:
//
//	plugin "dmarc" {
//	  wasm   = "bin/plugins/dmarc.wasm"
//	  config = {
//	    reject      = true # false: p=reject quarantines instead
//	    quarantine  = true # false: p=quarantine (and a downgraded reject) only continue
//	    reject_text = "DMARC policy of %domain% rejects this message"
//	  }
//	}
//
// A message whose tag auth.dmarc is anything but "fail" continues. A
// failing message is subject to its policy (auth.dmarc.policy) with
// probability pct percent (auth.dmarc.pct, sampled with crypto/rand); when
// it is not sampled, the next policy down applies: reject becomes
// quarantine, quarantine becomes none. Then the configuration may soften
// it further. The outcome:
//
//   - reject: "550 5.7.1 DMARC policy of DOMAIN rejects this message",
//     DOMAIN the From domain (auth.dmarc.domain) reduced to the bytes of a
//     host name; reject_text replaces the text, with %domain% replaced;
//   - quarantine: the quarantine verdict, with a warning in the log;
//   - none: the message continues; an info line says so.
//
// The tag dmarc.action is set to reject, quarantine or none for every
// message auth-results checked. Without the auth-results tags the plugin
// logs a warning and the message continues.
package main

import sluice "github.com/sluice-mail/sluice/sdk/go"

func init() { sluice.Register(&enforcer{}) }

func main() {}
