package bridge

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/sluice-mail/sluice/gateway/policy"
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/sdk/abi"
)

// maxPasswordFile bounds what is read of a scanner's password_file.
const maxPasswordFile = 4 << 10

// loadScanners builds the policy's scanner blocks (docs/scanners.md),
// reading rspamd's password files. A file that cannot be read, or holds no
// usable password, is reported at its password_file attribute and fails
// the build, so a reload keeps the old scanners.
func loadScanners(decl []policy.Scanner) (map[string]scan.Scanner, hcl.Diagnostics) {
	out := make(map[string]scan.Scanner, len(decl))
	var diags hcl.Diagnostics
	for _, d := range decl {
		c := scan.Config{Name: d.Name, Engine: d.Engine, Address: d.Address, Timeout: d.Timeout, MaxSize: d.MaxSize}
		if d.PasswordFile != "" {
			pw, err := readPassword(d.PasswordFile)
			if err != nil {
				rng := d.PasswordFileRange
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot use scanner password",
					Detail: fmt.Sprintf("scanner %q: %v", d.Name, err), Subject: &rng})
				continue
			}
			c.Password = pw
		}
		s, err := scan.New(c)
		if err != nil {
			rng := d.DefRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot use scanner",
				Detail: fmt.Sprintf("scanner %q: %v", d.Name, err), Subject: &rng})
			continue
		}
		out[d.Name] = s
	}
	return out, diags
}

// readPassword reads a password file: one line, its line ending dropped.
func readPassword(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %v", path, err)
	}
	if len(b) > maxPasswordFile {
		return "", fmt.Errorf("%s: over %d bytes; it should hold the password alone", path, maxPasswordFile)
	}
	b = bytes.TrimRight(b, "\r\n")
	switch {
	case len(b) == 0:
		return "", fmt.Errorf("%s is empty", path)
	case bytes.ContainsAny(b, "\r\n\x00"):
		return "", fmt.Errorf("%s holds more than one line; it should hold the password alone", path)
	}
	return string(b), nil
}

// grantedScanners returns the scanners named by a plugin's "scan:NAME"
// grants (sdk/ABI.md §4.12).
func grantedScanners(all map[string]scan.Scanner, grants []string) map[string]scan.Scanner {
	var out map[string]scan.Scanner
	for _, g := range grants {
		if name, ok := strings.CutPrefix(g, abi.GrantScanPrefix); ok && all[name] != nil {
			if out == nil {
				out = map[string]scan.Scanner{}
			}
			out[name] = all[name]
		}
	}
	return out
}
