package policy

import (
	"bytes"
	"strings"
	"testing"
)

func diagLines(t *testing.T, src string) []string {
	t.Helper()
	_, diags := Parse([]byte(src), "policy.hcl")
	var buf bytes.Buffer
	WriteDiagnostics(&buf, diags)
	out := strings.TrimSuffix(buf.String(), "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

func TestDiagnostics(t *testing.T) {
	t.Setenv("SLUICE_TEST_UNSET", "")
	for _, tc := range diagnosticCases {
		t.Run(tc.name, func(t *testing.T) {
			got := diagLines(t, tc.src)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}
