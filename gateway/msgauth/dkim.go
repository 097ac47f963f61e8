package msgauth

import (
	"context"

	"github.com/sluice-mail/sluice/gateway/dkimverify"
)

// sigPrefixLen is how much of b= a DKIMResult reports (RFC 6008 §4: at
// least 8 characters; 12 tells signatures apart in practice).
const sigPrefixLen = 12

// checkDKIM verifies the first max DKIM-Signature fields of the rendered
// message raw (RFC 6376 §6.1), in header order, with gateway/dkimverify.
// Without a signature the result is one "none" entry.
//
// Hashing a large body stops once ctx has ended: the signatures are then
// temperror.
func checkDKIM(ctx context.Context, raw []byte, max int, lookupTXT func(string) ([]string, error)) []DKIMResult {
	verifs := dkimverify.Verify(ctx, raw, dkimverify.Options{LookupTXT: lookupTXT, Max: max})
	if len(verifs) == 0 {
		return []DKIMResult{{Result: "none"}}
	}
	out := make([]DKIMResult, len(verifs))
	for i, v := range verifs {
		out[i] = DKIMResult{
			Result: v.Result, Reason: reason(v.Reason),
			Domain: v.Domain, Selector: v.Selector, Identifier: v.Identifier, Algorithm: v.Algorithm,
			Signature: v.Signature,
		}
		if len(out[i].Signature) > sigPrefixLen {
			out[i].Signature = out[i].Signature[:sigPrefixLen]
		}
	}
	return out
}
