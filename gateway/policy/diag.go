package policy

import (
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Error returns an error diagnostic about rng in file. rng may be nil for a
// problem with the whole file; file is then the only position reported.
// Other packages use it to report problems against a policy's ranges, for
// example a plugin that does not compile against Plugin.DefRange.
func Error(file string, rng *hcl.Range, summary, detail string) *hcl.Diagnostic {
	return newDiagnostic(hcl.DiagError, file, rng, summary, detail)
}

// Warning is like Error with warning severity: reported, but the policy is
// still served.
func Warning(file string, rng *hcl.Range, summary, detail string) *hcl.Diagnostic {
	return newDiagnostic(hcl.DiagWarning, file, rng, summary, detail)
}

func newDiagnostic(sev hcl.DiagnosticSeverity, file string, rng *hcl.Range, summary, detail string) *hcl.Diagnostic {
	var subject hcl.Range
	if rng != nil {
		subject = *rng
	}
	if subject.Filename == "" {
		subject.Filename = file
	}
	return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &subject}
}

// WriteDiagnostics writes one line per diagnostic, sorted by file and
// position, in the form
//
//	file:line:col: summary: detail
//
// with "warning: " before the summary of a warning. This is the format of
// `sluice check`, and what editors and CI annotators parse.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) {
	sorted := make(hcl.Diagnostics, len(diags))
	copy(sorted, diags)
	sortDiagnostics(sorted)
	var b strings.Builder
	for _, d := range sorted {
		b.WriteString(FormatDiagnostic(d))
		b.WriteByte('\n')
	}
	_, _ = io.WriteString(w, b.String())
}

// FormatDiagnostic renders one diagnostic as a single line, without the
// newline, in the format of WriteDiagnostics.
func FormatDiagnostic(d *hcl.Diagnostic) string {
	var b strings.Builder
	if s := d.Subject; s != nil {
		if s.Filename != "" {
			b.WriteString(s.Filename)
			b.WriteByte(':')
		}
		if s.Start.Line > 0 {
			b.WriteString(strconv.Itoa(s.Start.Line))
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(s.Start.Column))
			b.WriteByte(':')
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
	}
	if d.Severity == hcl.DiagWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(oneLine(d.Summary))
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(oneLine(d.Detail))
	}
	return b.String()
}

// oneLine folds any line breaks so that each diagnostic stays on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// sortDiagnostics orders diagnostics by file, then position; diagnostics
// without a subject come first. The sort is stable, so diagnostics at the
// same position keep the order in which they were found.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		default:
			return a.Start.Column < b.Start.Column
		}
	})
}
