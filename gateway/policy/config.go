package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// configJSON renders a plugin's config value as compact JSON (sdk/ABI.md
// §4.1.1): objects and maps become JSON objects (keys sorted), tuples, lists
// and sets become arrays, whole numbers print without an exponent, and
// strings are not HTML-escaped.
func configJSON(v cty.Value) ([]byte, error) {
	var b strings.Builder
	if err := writeJSON(&b, v, 0); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// maxConfigDepth bounds nesting so a hostile policy cannot exhaust the stack.
const maxConfigDepth = 64

func writeJSON(b *strings.Builder, v cty.Value, depth int) error {
	if depth > maxConfigDepth {
		return errors.New("nested too deeply")
	}
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	if !v.IsKnown() {
		return errors.New("value is not known")
	}
	if v.IsNull() {
		b.WriteString("null")
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		if err := writeJSONString(b, v.AsString()); err != nil {
			return err
		}
	case ty == cty.Bool:
		b.WriteString(strconv.FormatBool(v.True()))
	case ty == cty.Number:
		s, err := jsonNumber(v.AsBigFloat())
		if err != nil {
			return err
		}
		b.WriteString(s)
	case ty.IsObjectType() || ty.IsMapType():
		b.WriteByte('{')
		first := true
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if !first {
				b.WriteByte(',')
			}
			first = false
			if err := writeJSONString(b, k.AsString()); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := writeJSON(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case ty.IsTupleType() || ty.IsListType() || ty.IsSetType():
		b.WriteByte('[')
		first := true
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if !first {
				b.WriteByte(',')
			}
			first = false
			if err := writeJSON(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return errors.New("values of type " + ty.FriendlyName() + " cannot be passed to a plugin")
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping: "<",
// ">" and "&" arrive in the plugin as the operator wrote them, so a plugin
// that copies a string's bytes gets the policy's text (sdk/ABI.md §4.1).
// Quotes, backslashes, control characters, U+2028 and U+2029 are still
// escaped.
func writeJSONString(b *strings.Builder, s string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return nil
}

// jsonNumber renders f as a JSON number: whole numbers in plain decimal,
// others in the shortest form that round-trips, with an exponent when that
// is shorter. Numbers beyond float64's range are refused: most plugins'
// JSON decoders could not read them (and printing 1e999999 exactly takes
// seconds).
func jsonNumber(f *big.Float) (string, error) {
	if !inFloat64Range(f) {
		return "", errors.New("a number is beyond the range of a 64-bit float")
	}
	if f.IsInt() && f.MantExp(nil) <= 256 {
		return f.Text('f', 0), nil
	}
	return f.Text('g', -1), nil
}

// inFloat64Range reports whether f is zero or has the magnitude of a finite,
// non-zero float64.
func inFloat64Range(f *big.Float) bool {
	x, _ := f.Float64()
	return !math.IsInf(x, 0) && (x != 0 || f.Sign() == 0)
}

// numberText renders f for a diagnostic, cheaply even for huge exponents.
func numberText(f *big.Float) string {
	if !inFloat64Range(f) {
		return "a number beyond the range of a 64-bit float"
	}
	x, _ := f.Float64()
	return strconv.FormatFloat(x, 'g', -1, 64)
}
