// Package dnsname checks the labels of a domain name in plugin
// configuration (RFC 1035 §2.3.1).
package dnsname

import (
	"errors"
	"fmt"
	"strings"
)

// CheckLabels checks that each dot-separated label of s is 1 to 63 bytes,
// does not start or end with a hyphen, and has only bytes that allowed
// accepts. The caller checks the name's whole length.
func CheckLabels(s string, allowed func(c byte) bool) error {
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return errors.New("labels must be 1 to 63 bytes")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("a label starts or ends with a hyphen")
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !allowed(c) {
				return fmt.Errorf("byte 0x%02x is not a letter, digit or hyphen", c)
			}
		}
	}
	return nil
}
