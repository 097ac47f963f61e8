package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteSize is a size in bytes decoded from a JSON number (bytes) or a
// string with an optional binary unit: "10MiB", "512 KiB", "1000".
type byteSize int64

// units are the accepted suffixes, matched case-insensitively, longest
// first so "KiB" is not read as "B".
var units = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10},
	{"mib", 1 << 20},
	{"gib", 1 << 30},
	{"b", 1},
}

func (s *byteSize) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		n, err := parseSize(str)
		if err != nil {
			return err
		}
		*s = byteSize(n)
		return nil
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("size %s is not a whole number of bytes", b)
	}
	*s = byteSize(n)
	return nil
}

// parseSize parses "<digits>[ ][unit]".
func parseSize(str string) (int64, error) {
	num, mult := str, int64(1)
	for _, u := range units {
		if n := len(str) - len(u.suffix); n >= 0 && strings.EqualFold(str[n:], u.suffix) {
			num, mult = strings.TrimSuffix(str[:len(str)-len(u.suffix)], " "), u.mult
			break
		}
	}
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, fmt.Errorf("size %q is not a number of bytes with an optional unit B, KiB, MiB or GiB", str)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", str)
	}
	return n * mult, nil
}

// errGarbage is the result of sizeParam for a SIZE value that is not
// 1*20DIGIT (RFC 1870 §6).
var errGarbage = errors.New("not 1 to 20 digits")

// sizeParam returns the value of the SIZE parameter in the MAIL parameters
// (space-separated, keywords case-insensitive, RFC 5321 §4.1.2). found is
// false when there is none. A value of 20 digits above the range of uint64
// is returned as math.MaxUint64: it exceeds any limit. Only the first SIZE
// parameter counts.
func sizeParam(params string) (size uint64, found bool, err error) {
	for _, p := range strings.Fields(params) {
		key, val, _ := strings.Cut(p, "=")
		if !strings.EqualFold(key, "SIZE") {
			continue
		}
		if val == "" || len(val) > 20 || strings.TrimLeft(val, "0123456789") != "" {
			return 0, true, errGarbage
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil { // all digits: out of range
			return math.MaxUint64, true, nil
		}
		return n, true, nil
	}
	return 0, false, nil
}
