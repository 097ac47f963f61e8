package policy

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Byte-count units accepted in sizes. Binary units (KiB, MiB, GiB) are
// powers of 1024, decimal ones (KB, MB, GB) powers of 1000.
const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

const sizeHint = `use a number of bytes, or a string like "512KiB" or "25MiB"`

// unitSize is the number of bytes in a unit, given in lower case.
func unitSize(unit string) (int64, bool) {
	switch unit {
	case "", "b":
		return 1, true
	case "kib":
		return KiB, true
	case "mib":
		return MiB, true
	case "gib":
		return GiB, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	}
	return 0, false
}

var errSize = errors.New("not a size")

// parseSize parses a whole number of bytes with an optional unit, such as
// "1024", "512KiB" or "25 MB". Units are case-insensitive.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errSize
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, errSize
	}
	mult, ok := unitSize(strings.ToLower(strings.TrimSpace(s[i:])))
	if !ok || n > math.MaxInt64/mult {
		return 0, errSize
	}
	return n * mult, nil
}

// formatSize renders n in the largest binary unit that divides it.
func formatSize(n int64) string {
	switch {
	case n != 0 && n%GiB == 0:
		return strconv.FormatInt(n/GiB, 10) + "GiB"
	case n != 0 && n%MiB == 0:
		return strconv.FormatInt(n/MiB, 10) + "MiB"
	case n != 0 && n%KiB == 0:
		return strconv.FormatInt(n/KiB, 10) + "KiB"
	default:
		return strconv.FormatInt(n, 10) + "B"
	}
}
