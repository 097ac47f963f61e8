package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/dnsname"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's configuration as JSON.
type config struct {
	AuthservID    string `json:"authserv_id"`
	RemoveForeign bool   `json:"remove_foreign"`
	Header        *bool  `json:"header"`
}

// authResults is the plugin; Configure fills it once per instance.
type authResults struct {
	id            string // authserv-id, as configured
	removeForeign bool
	header        bool
}

// Configure decodes and checks the configuration; any problem refuses it.
func (p *authResults) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *authResults) load(c config) error {
	id := strings.TrimSuffix(c.AuthservID, ".")
	if id == "" {
		return errors.New("authserv_id: required (the host name downstream trusts, such as mx.example.org)")
	}
	if err := validHostname(id); err != nil {
		return fmt.Errorf("authserv_id: %q: %w", c.AuthservID, err)
	}
	p.id = id
	p.removeForeign = c.RemoveForeign
	p.header = c.Header == nil || *c.Header
	return nil
}

// validHostname checks a host name: dot-separated labels of 1 to 63
// letters, digits and hyphens, not starting or ending with a hyphen, at
// most 253 bytes (RFC 1123 §2.1, RFC 1035 §2.3.1).
func validHostname(s string) error {
	if len(s) > 253 {
		return errors.New("longer than 253 bytes")
	}
	return dnsname.CheckLabels(s, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	})
}
