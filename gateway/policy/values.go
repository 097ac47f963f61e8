package policy

import (
	"fmt"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder accumulates diagnostics while decoding one file.
type decoder struct {
	file  string // file name as given, for diagnostics
	dir   string // absolute directory of the file, for relative paths
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
	// keyNames are the declared dkim_key names, for "dkim:NAME" grants.
	keyNames map[string]bool
	// scannerNames are the declared scanner names, for "scan:NAME" grants.
	scannerNames map[string]bool
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, Error(d.file, &rng, summary, fmt.Sprintf(format, args...)))
}

func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, Warning(d.file, &rng, summary, fmt.Sprintf(format, args...)))
}

// value evaluates attr. ok is false when the attribute is absent or null
// (the default applies) or when evaluation failed (already reported).
func (d *decoder) value(attr *hcl.Attribute) (cty.Value, bool) {
	if attr == nil {
		return cty.NilVal, false
	}
	v, diags := attr.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	if v.IsMarked() {
		v, _ = v.UnmarkDeep()
	}
	return v, true
}

// typed evaluates attr and converts it to ty, reporting a type mismatch.
func (d *decoder) typed(attr *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	v, ok := d.value(attr)
	if !ok {
		return v, false
	}
	c, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(attr.Range, "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", attr.Name, err)
		return cty.NilVal, false
	}
	if !c.IsWhollyKnown() || c.IsNull() {
		return cty.NilVal, false
	}
	return c, true
}

// str decodes a string attribute into dst, leaving dst alone when absent.
func (d *decoder) str(attr *hcl.Attribute, dst *string) bool {
	v, ok := d.typed(attr, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

// enum decodes a string attribute that must be one of allowed.
func (d *decoder) enum(attr *hcl.Attribute, dst *string, allowed ...string) {
	var s string
	if !d.str(attr, &s) {
		return
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return
		}
	}
	d.errorf(attr.Range, "Invalid value", "%s must be %s, not %q.", attr.Name, oneOf(allowed), s)
}

// integer decodes a whole number in [lo, hi].
func (d *decoder) integer(attr *hcl.Attribute, dst *int, lo, hi int) {
	v, ok := d.typed(attr, cty.Number)
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		d.errorf(attr.Range, "Invalid value", "%s must be a whole number, not %s.", attr.Name, numberText(bf))
		return
	}
	if n < int64(lo) {
		d.errorf(attr.Range, "Value out of range", "%s must be at least %d, not %d.", attr.Name, lo, n)
		return
	}
	if n > int64(hi) {
		d.errorf(attr.Range, "Value out of range", "%s must be at most %d, not %d.", attr.Name, hi, n)
		return
	}
	*dst = int(n)
}

// duration decodes a Go duration string ("200ms", "5m") in [lo, hi]. When
// positive is set, zero is refused too.
func (d *decoder) duration(attr *hcl.Attribute, dst *time.Duration, positive bool, hi time.Duration) {
	var s string
	if !d.str(attr, &s) {
		return
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(attr.Range, "Invalid duration", "%q is not a duration (use Go syntax like \"200ms\" or \"5m\")", s)
		return
	}
	switch {
	case positive && t <= 0:
		d.errorf(attr.Range, "Value out of range", "%s must be greater than zero, not %q.", attr.Name, s)
	case t < 0:
		d.errorf(attr.Range, "Value out of range", "%s must be zero or more, not %q.", attr.Name, s)
	case hi > 0 && t > hi:
		d.errorf(attr.Range, "Value out of range", "%s must be at most %s, not %q.", attr.Name, hi, s)
	default:
		*dst = t
	}
}

// size decodes a byte count in [lo, hi]: a number of bytes or a string with
// a unit (see parseSize).
func (d *decoder) size(attr *hcl.Attribute, dst *int64, lo, hi int64) {
	v, ok := d.value(attr)
	if !ok {
		return
	}
	var n int64
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || i < 0 {
			d.errorf(attr.Range, "Invalid size", "%s is not a size (%s)", numberText(bf), sizeHint)
			return
		}
		n = i
	case cty.String:
		var err error
		if n, err = parseSize(v.AsString()); err != nil {
			d.errorf(attr.Range, "Invalid size", "%q is not a size (%s)", v.AsString(), sizeHint)
			return
		}
	default:
		d.errorf(attr.Range, "Incorrect attribute value type",
			"Inappropriate value for attribute %q: a number of bytes or a string like \"25MiB\" is required.", attr.Name)
		return
	}
	if n < lo {
		d.errorf(attr.Range, "Value out of range", "%s must be at least %s, not %s.", attr.Name, formatSize(lo), formatSize(n))
		return
	}
	if n > hi {
		d.errorf(attr.Range, "Value out of range", "%s must be at most %s, not %s.", attr.Name, formatSize(hi), formatSize(n))
		return
	}
	*dst = n
}

// boolean decodes a bool attribute into dst, leaving dst alone when absent.
func (d *decoder) boolean(attr *hcl.Attribute, dst *bool) {
	if v, ok := d.typed(attr, cty.Bool); ok {
		*dst = v.True()
	}
}

// stringList decodes a list of strings.
func (d *decoder) stringList(attr *hcl.Attribute, dst *[]string) {
	v, ok := d.typed(attr, cty.List(cty.String))
	if !ok {
		return
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		i, e := it.Element()
		if e.IsNull() {
			idx, _ := i.AsBigFloat().Int64()
			d.errorf(attr.Range, "Invalid value", "%s[%d] must be a string, not null.", attr.Name, idx)
			return
		}
		out = append(out, e.AsString())
	}
	*dst = out
}

// path decodes a file path, resolved against the policy file's directory
// when relative. The file is not opened.
func (d *decoder) path(attr *hcl.Attribute, dst *string) bool {
	var s string
	if !d.str(attr, &s) {
		return false
	}
	if strings.TrimSpace(s) == "" || strings.ContainsRune(s, 0) {
		d.errorf(attr.Range, "Invalid path", "%s must be a file path, not %q.", attr.Name, s)
		return false
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(d.dir, s)
	}
	*dst = filepath.Clean(s)
	return true
}

// oneOf renders allowed values as `"a", "b" or "c"`.
func oneOf(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = strconv.Quote(a)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func quote(s string) string { return strconv.Quote(s) }

// pos renders the start of rng as file:line:col.
func pos(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}
