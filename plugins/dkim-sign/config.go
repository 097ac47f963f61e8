package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mail/sluice/plugins/internal/toggle"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's configuration as JSON.
type config struct {
	Headers          []string        `json:"headers"`
	Canonicalization string          `json:"canonicalization"`
	Expiration       sluice.Duration `json:"expiration"`
	SignUnmatched    string          `json:"sign_unmatched"`
	OnRefusal        string          `json:"on_refusal"`
}

// canonicalizations are the values dkim_sign accepts (sdk/ABI.md §4.10,
// RFC 6376 §3.4): header/body, or one algorithm for both.
var canonicalizations = []string{
	"relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple", "relaxed", "simple",
}

// signer is the plugin; Configure fills it once per instance.
type signer struct {
	opts      sluice.DKIMOptions
	unmatched string           // key name for a From domain no key matches; "" = none
	tempfail  bool             // on_refusal = "tempfail"
	keys      []sluice.DKIMKey // granted keys, read once in Configure
}

// Configure decodes and checks the configuration; any problem refuses it.
func (p *signer) Configure(h sluice.Host) error {
	var c config
	if err := sluice.DecodeConfig(h, &c); err != nil {
		return err
	}
	p.keys = h.DKIMKeys() // fixed for the policy generation
	return p.load(c)
}

func (p *signer) load(c config) error {
	p.opts = sluice.DKIMOptions{}
	if c.Headers != nil {
		hs, err := headerList(c.Headers)
		if err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		p.opts.Headers = hs
	}
	if c.Canonicalization != "" && !slices.Contains(canonicalizations, c.Canonicalization) {
		return fmt.Errorf("canonicalization: %q is not one of %s", c.Canonicalization, strings.Join(canonicalizations, ", "))
	}
	p.opts.Canonicalization = c.Canonicalization
	exp := time.Duration(c.Expiration)
	if exp < 0 {
		return errors.New("expiration: must not be negative")
	}
	if exp%time.Second != 0 {
		return errors.New("expiration: must be whole seconds (x= counts seconds)")
	}
	p.opts.Expiration = int64(exp / time.Second)
	if c.SignUnmatched != "" {
		if err := validKeyName(c.SignUnmatched); err != nil {
			return fmt.Errorf("sign_unmatched: %q: %w", c.SignUnmatched, err)
		}
	}
	p.unmatched = c.SignUnmatched
	tempfail, err := toggle.Parse("on_refusal", c.OnRefusal, "continue", "tempfail")
	if err != nil {
		return err
	}
	p.tempfail = tempfail
	return nil
}

// headerList checks the names to sign: each a valid field name (1 to 76
// bytes of printable ASCII other than ':', as the host requires), none
// listed twice, From among them (RFC 6376 §5.4 requires it signed).
func headerList(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	from := false
	for _, n := range names {
		if len(n) == 0 || len(n) > 76 {
			return nil, fmt.Errorf("%q: a name must be 1 to 76 bytes", n)
		}
		for i := 0; i < len(n); i++ {
			if c := n[i]; c < 33 || c > 126 || c == ':' {
				return nil, fmt.Errorf("%q: name contains byte 0x%02x", n, c)
			}
		}
		for _, o := range out {
			if strings.EqualFold(o, n) {
				return nil, fmt.Errorf("%q is listed twice", n)
			}
		}
		from = from || strings.EqualFold(n, "From")
		out = append(out, n)
	}
	if !from {
		return nil, errors.New("the list must include From")
	}
	return out, nil
}

// validKeyName checks a dkim_key name as info "dkim.keys" lists it: a
// non-empty word of printable ASCII.
func validKeyName(n string) error {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("contains byte 0x%02x", c)
		}
	}
	return nil
}
