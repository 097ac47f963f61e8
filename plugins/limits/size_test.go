package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		json    string
		want    int64
		wantErr string
	}{
		{`1000`, 1000, ""},
		{`"1000"`, 1000, ""},
		{`"0"`, 0, ""},
		{`"12B"`, 12, ""},
		{`"1KiB"`, 1024, ""},
		{`"10MiB"`, 10 << 20, ""},
		{`"10 MiB"`, 10 << 20, ""},
		{`"10mib"`, 10 << 20, ""},
		{`"2GiB"`, 2 << 30, ""},
		{`"8589934591GiB"`, 8589934591 << 30, ""},
		{`"8589934592GiB"`, 0, "too large"},
		{`"99999999999999999999"`, 0, "too large"},
		{`"10MB"`, 0, "KiB, MiB or GiB"},
		{`"10 KB"`, 0, "KiB, MiB or GiB"},
		{`"1.5MiB"`, 0, "KiB, MiB or GiB"},
		{`"-1"`, 0, "KiB, MiB or GiB"},
		{`"MiB"`, 0, "KiB, MiB or GiB"},
		{`""`, 0, "KiB, MiB or GiB"},
		{`"10  MiB"`, 0, "KiB, MiB or GiB"},
		{`" 10MiB"`, 0, "KiB, MiB or GiB"},
		{`"10MiB "`, 0, "KiB, MiB or GiB"},
		{`"\u00e910B"`, 0, "KiB, MiB or GiB"},
		{`1.5`, 0, "whole number"},
		{`1e6`, 0, "whole number"},
		{`true`, 0, "whole number"},
		{`-5`, -5, ""}, // decoded; Configure refuses it (TestConfigure)
	}
	for _, tt := range tests {
		var s byteSize
		err := json.Unmarshal([]byte(tt.json), &s)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.json, err, tt.wantErr)
			}
			continue
		}
		if err != nil || int64(s) != tt.want {
			t.Errorf("%s = %d, %v; want %d", tt.json, s, err, tt.want)
		}
	}
}

func TestSizeParam(t *testing.T) {
	tests := []struct {
		params  string
		want    uint64
		found   bool
		garbage bool
	}{
		{"", 0, false, false},
		{"BODY=8BITMIME", 0, false, false},
		{"SIZE=1000", 1000, true, false},
		{"size=1000", 1000, true, false},
		{"BODY=8BITMIME SIZE=42 SMTPUTF8", 42, true, false},
		{"  SIZE=42  ", 42, true, false},
		{"SIZE=0", 0, true, false},
		{"SIZE=00000000000000000042", 42, true, false},
		{"SIZE=18446744073709551615", math.MaxUint64, true, false},
		{"SIZE=18446744073709551616", math.MaxUint64, true, false},
		{"SIZE=99999999999999999999", math.MaxUint64, true, false},
		{"SIZE=1 SIZE=999999", 1, true, false},
		{"XSIZE=999999", 0, false, false},
		{"SIZE", 0, true, true},
		{"SIZE=", 0, true, true},
		{"SIZE=-1", 0, true, true},
		{"SIZE=+1", 0, true, true},
		{"SIZE=1e9", 0, true, true},
		{"SIZE=10MiB", 0, true, true},
		{"SIZE= 1000", 0, true, true},
		{"SIZE=0x10", 0, true, true},
		{"SIZE=123456789012345678901", 0, true, true}, // 21 digits
		{"SIZE=١٢٣", 0, true, true},                   // non-ASCII digits
	}
	for _, tt := range tests {
		got, found, err := sizeParam(tt.params)
		if found != tt.found || (err != nil) != tt.garbage || (!tt.garbage && got != tt.want) {
			t.Errorf("%q = %d, %v, %v; want %d, %v, garbage %v", tt.params, got, found, err, tt.want, tt.found, tt.garbage)
		}
	}
}
