package policy

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// checkErrors checks that the error diagnostics of diags, formatted, contain
// errs in order, one each. It reports whether the case expects no error, so
// the caller goes on checking the parsed policy.
func checkErrors(t *testing.T, diags hcl.Diagnostics, errs []string) bool {
	t.Helper()
	var got []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			got = append(got, FormatDiagnostic(d))
		}
	}
	if len(got) != len(errs) {
		t.Fatalf("errors %q, want %d matching %q", got, len(errs), errs)
	}
	for i, want := range errs {
		if !strings.Contains(got[i], want) {
			t.Errorf("error %q, want it to contain %q", got[i], want)
		}
	}
	return len(errs) == 0
}
