package bridge

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// loadDKIMKeys reads the policy's dkim_key files (sdk/ABI.md §4.10). A key
// that cannot be read or parsed is reported at its private_key_file
// attribute and fails the build, so a reload keeps the old keys.
func loadDKIMKeys(decl []policy.DKIMKey) (map[string]*dkimsign.Key, hcl.Diagnostics) {
	keys := make(map[string]*dkimsign.Key, len(decl))
	var diags hcl.Diagnostics
	for _, d := range decl {
		k, err := dkimsign.LoadKey(d.Name, d.Domain, d.Selector, d.KeyFile)
		if err != nil {
			rng := d.KeyFileRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot use DKIM key",
				Detail: err.Error(), Subject: &rng}) // names the key and the file
			continue
		}
		keys[d.Name] = k
	}
	return keys, diags
}

// grantedKeys returns the keys named by a plugin's "dkim:NAME" grants.
func grantedKeys(keys map[string]*dkimsign.Key, grants []string) []*dkimsign.Key {
	var out []*dkimsign.Key
	for _, g := range grants {
		if name, ok := strings.CutPrefix(g, abi.GrantDKIMPrefix); ok && keys[name] != nil {
			out = append(out, keys[name])
		}
	}
	return out
}
