package sluice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DecodeConfig decodes the plugin's JSON configuration into v (a pointer),
// strictly: a key that matches no field of v is an error, so a typo in the
// policy is reported instead of silently ignored. Use it from Configure:
//
//	func (p *plugin) Configure(h sluice.Host) error { return sluice.DecodeConfig(h, &p.cfg) }
//
// The policy's HCL value arrives as JSON: HCL objects are JSON objects, lists
// are arrays, numbers are numbers.
func DecodeConfig(h Host, v any) error {
	dec := json.NewDecoder(bytes.NewReader(h.Config()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("config: trailing data after the JSON value")
	}
	return nil
}
