// Package toggle decodes a plugin setting that names one of two behaviours.
package toggle

import "fmt"

// Parse reads the setting key, which is either def (the default, also
// when empty) or other: it reports whether value is other.
func Parse(key, value, def, other string) (bool, error) {
	switch value {
	case "", def:
		return false, nil
	case other:
		return true, nil
	}
	return false, fmt.Errorf("%s: %q is neither %q nor %q", key, value, def, other)
}
