package sluice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// DecodeConfig decodes the plugin's JSON configuration into v (a pointer),
// strictly: a key that matches no field of v is an error, so a typo in the
// policy is reported instead of silently ignored. Use it from Configure:
//
//	func (p *plugin) Configure(h sluice.Host) error { return sluice.DecodeConfig(h, &p.cfg) }
//
// The policy's HCL value arrives as JSON: HCL objects are JSON objects, lists
// are arrays, numbers are numbers.
//
// Errors name the key as the policy spells it, with what is wrong there:
// `config.max_words: 2.5 is not a whole number`, `config.rules[0].phsae:
// unknown key (known here: key, limit, phase, window)`.
func DecodeConfig(h Host, v any) error {
	raw := h.Config()
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return fmt.Errorf("config: not valid JSON: %v", err)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		if err := checkConfig("config", tree, rv.Type().Elem()); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return configError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("config: trailing data after the JSON value")
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkConfig walks the decoded JSON value val against the Go type t and
// reports, at its path, the first unknown key or value of the wrong kind.
// encoding/json would report both without a full path and in Go's terms.
func checkConfig(path string, val any, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if val == nil {
		return nil // null leaves the zero value
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// A type that decodes itself (sluice.Duration): run it here, so
		// its error gets the key.
		b, err := json.Marshal(val)
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := val.(map[string]any)
		if !ok {
			return wrongKind(path, val, "an object")
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(obj) {
			f, ok := findField(fields, k)
			if !ok {
				names := make([]string, 0, len(fields))
				for _, f := range fields {
					names = append(names, f.name)
				}
				sort.Strings(names)
				return fmt.Errorf("%s.%s: unknown key (known here: %s)", path, k, strings.Join(names, ", "))
			}
			if f.asString {
				continue // encoding/json checks it
			}
			if err := checkConfig(path+"."+k, obj[k], f.typ); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := val.(map[string]any)
		if !ok {
			return wrongKind(path, val, "an object")
		}
		for _, k := range sortedKeys(obj) {
			if err := checkConfig(path+"."+k, obj[k], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		list, ok := val.([]any)
		if !ok {
			return wrongKind(path, val, "a list")
		}
		for i, e := range list {
			if err := checkConfig(path+"["+strconv.Itoa(i)+"]", e, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.String:
		if _, ok := val.(string); !ok {
			return wrongKind(path, val, "a string")
		}
	case reflect.Bool:
		if _, ok := val.(bool); !ok {
			return wrongKind(path, val, "true or false")
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := val.(float64); !ok {
			return wrongKind(path, val, "a number")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		lo, hi := int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1
		return checkWhole(path, val, float64(lo), float64(hi), strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		hi := uint64(1)<<t.Bits() - 1
		return checkWhole(path, val, 0, float64(hi), "0", strconv.FormatUint(hi, 10))
	}
	return nil
}

// checkWhole checks that val is a whole number from lo to hi (loText and
// hiText exactly, as float64 rounds 64-bit bounds).
func checkWhole(path string, val any, lo, hi float64, loText, hiText string) error {
	n, ok := val.(float64)
	if !ok || n != math.Trunc(n) {
		return wrongKind(path, val, "a whole number")
	}
	if n < lo || n > hi {
		return fmt.Errorf("%s: %s is out of range (%s to %s)", path, describe(val), loText, hiText)
	}
	return nil
}

func wrongKind(path string, val any, want string) error {
	return fmt.Errorf("%s: %s is not %s", path, describe(val), want)
}

// describe renders a JSON value the way an operator wrote it in HCL.
func describe(val any) string {
	switch x := val.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "null"
}

type jsonField struct {
	name     string
	typ      reflect.Type
	asString bool // `json:",string"`: a number or bool inside a string
}

// jsonFields lists the keys encoding/json decodes into struct type t.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type, asString: slices.Contains(strings.Split(opts, ","), "string")})
	}
	return out
}

// findField matches k as encoding/json does: exactly, else without case.
func findField(fields []jsonField, k string) (jsonField, bool) {
	for _, f := range fields {
		if f.name == k {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.name, k) {
			return f, true
		}
	}
	return jsonField{}, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// configError says what encoding/json found in policy terms, for what
// checkConfig does not catch (a value a custom type refuses, a target that
// is not a pointer).
func configError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := "config"
		if te.Field != "" {
			path += "." + te.Field
		}
		return fmt.Errorf("%s: a %s is not accepted here", path, te.Value)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("config: unknown key %s", msg)
	}
	return fmt.Errorf("config: %w", err)
}

// LoadConfig decodes the plugin's configuration into a new C, as
// DecodeConfig does, and hands it to load, which checks it and keeps what
// the hooks need:
//
//	func (p *myPlugin) Configure(h sluice.Host) error {
//		return sluice.LoadConfig(h, p.load) // load(c config) error
//	}
func LoadConfig[C any](h Host, load func(C) error) error {
	var c C
	if err := DecodeConfig(h, &c); err != nil {
		return err
	}
	return load(c)
}
