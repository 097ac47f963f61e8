// Package toggle decodes a plugin setting that names one of two behaviours.
package toggle

import "fmt"

// Parse reports whether value selects on; "" and off select off. Any other
// value is an error naming setting and both choices.
func Parse(setting, value, off, on string) (bool, error) {
	switch value {
	case "", off:
		return false, nil
	case on:
		return true, nil
	}
	return false, fmt.Errorf("%s: %q is neither %q nor %q", setting, value, off, on)
}
