package sluice

import "github.com/sluice-mail/sluice/sdk/abi"

// Verdict is what a hook returns (ABI §2.1).
type Verdict int32

// Verdicts, each named Verdict plus its sdk/ABI.md §2.1 name. Reject,
// Tempfail, Refuse and Quarantine are helpers that set the reply and
// return VerdictReject, VerdictTempfail or VerdictQuarantine.
const (
	// VerdictContinue goes on with the next plugin.
	VerdictContinue = Verdict(abi.VerdictContinue)
	// VerdictAccept skips the rest of the chain for this transaction, later phases
	// included.
	VerdictAccept = Verdict(abi.VerdictAccept)
	// VerdictReject fails the command permanently (5xx) with the reply set by
	// SetReply, or "550 5.7.1 Rejected by policy".
	VerdictReject = Verdict(abi.VerdictReject)
	// VerdictTempfail fails the command temporarily (4xx) with the reply set
	// by SetReply, or "451 4.7.1 Try again later".
	VerdictTempfail = Verdict(abi.VerdictTempfail)
	// VerdictDiscard accepts the transaction but does not deliver it: an explicit,
	// logged decision. At connect or helo it applies to the whole session.
	VerdictDiscard = Verdict(abi.VerdictDiscard)
	// VerdictQuarantine delivers the message marked as quarantined; the chain
	// goes on.
	VerdictQuarantine = Verdict(abi.VerdictQuarantine)
)

// String returns the verdict's name as the gateway logs it.
func (v Verdict) String() string { return abi.VerdictName(int32(v)) }

// Reject sets a 5xx reply and returns VerdictReject:
//
//	return sluice.Reject(h, 550, "5.7.1", "Sender denied")
//
// A code outside 500..599 is a plugin error once the hook returns.
func Reject(h Host, code int, enhanced, text string) Verdict {
	h.SetReply(code, enhanced, text)
	return VerdictReject
}

// Tempfail sets a 4xx reply and returns VerdictTempfail:
//
//	return sluice.Tempfail(h, 451, "4.7.1", "Greylisted, try again later")
func Tempfail(h Host, code int, enhanced, text string) Verdict {
	h.SetReply(code, enhanced, text)
	return VerdictTempfail
}

// Refuse sets the reply and returns the verdict its class calls for:
// VerdictTempfail for 4xx, VerdictReject otherwise. Use it when the code
// comes from configuration.
func Refuse(h Host, code int, enhanced, text string) Verdict {
	h.SetReply(code, enhanced, text)
	if code/100 == 4 {
		return VerdictTempfail
	}
	return VerdictReject
}

// Quarantine returns VerdictQuarantine with reason (printable ASCII, 1 to 400
// bytes) as the reason the gateway writes into the X-Sluice-Quarantine
// header: like every SDK's quarantine helper, it passes the reason as the
// call's reply text, set_reply(550, "5.7.1", reason) (sdk/ABI.md §2.1).
func Quarantine(h Host, reason string) Verdict {
	h.SetReply(550, "5.7.1", reason)
	return VerdictQuarantine
}
