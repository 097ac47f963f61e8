package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/dnsname"
	"github.com/sluice-mail/sluice/plugins/internal/toggle"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's configuration as JSON.
type config struct {
	Zones    []string `json:"zones"`
	Mode     string   `json:"mode"`
	Code     int      `json:"code"`
	Enhanced string   `json:"enhanced"`
	Message  string   `json:"message"`
}

// maxZone leaves room in a 255-byte name for the 64 bytes of an IPv6
// nibble label sequence (RFC 1035 §2.3.4).
const maxZone = 255 - 64

// dnsbl is the plugin; Configure fills it once per instance.
type dnsbl struct {
	zones    []string
	tag      bool // mode "tag"
	code     int
	enhanced string
	message  string
}

// Configure decodes and checks the configuration; any problem refuses it.
func (p *dnsbl) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *dnsbl) load(c config) error {
	if len(c.Zones) == 0 {
		return errors.New("zones: at least one zone is required")
	}
	p.zones = p.zones[:0]
	for _, z := range c.Zones {
		z = strings.ToLower(strings.TrimSuffix(z, "."))
		if err := validZone(z); err != nil {
			return fmt.Errorf("zones: %q: %w", z, err)
		}
		p.zones = append(p.zones, z)
	}
	tag, err := toggle.Parse("mode", c.Mode, "reject", "tag")
	if err != nil {
		return err
	}
	p.tag = tag
	p.code = c.Code
	if p.code == 0 {
		p.code = 554
	}
	if p.code < 400 || p.code > 599 {
		return fmt.Errorf("code: %d is not a 4xx or 5xx code", p.code)
	}
	p.enhanced = c.Enhanced
	if p.enhanced == "" {
		p.enhanced = fmt.Sprintf("%d.7.1", p.code/100)
	}
	if err := sluice.CheckEnhanced(p.enhanced, p.code); err != nil {
		return fmt.Errorf("enhanced: %q: %w", p.enhanced, err)
	}
	p.message = c.Message
	if p.message == "" {
		p.message = "Client listed by %zone%"
	}
	// The longest zone replaces %zone%; check the text as it will be sent.
	for _, z := range p.zones {
		if err := sluice.CheckReplyText(p.text(z), 400); err != nil {
			return fmt.Errorf("message: %w", err)
		}
	}
	return nil
}

// text is the configured reply text for zone.
func (p *dnsbl) text(zone string) string {
	return strings.ReplaceAll(p.message, "%zone%", zone)
}

// validZone checks a zone: dot-separated labels of 1 to 63 bytes of
// letters, digits and hyphens, not starting or ending with a hyphen
// (RFC 1035 §2.3.1), at most maxZone bytes in all.
func validZone(z string) error {
	if z == "" || len(z) > maxZone {
		return fmt.Errorf("length must be 1 to %d bytes", maxZone)
	}
	return dnsname.CheckLabels(z, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	})
}
