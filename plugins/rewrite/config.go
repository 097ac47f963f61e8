package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"errors"
	"fmt"
	"slices"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	Senders    map[string]string `json:"senders"`
	Recipients map[string]string `json:"recipients"`
	Headers    bool              `json:"headers"`
}

// rewriter is the plugin; Configure fills it once per instance.
type rewriter struct {
	senders, rcpts table
	headers        bool
}

// Configure decodes and checks the configuration; any problem refuses it.
func (p *rewriter) Configure(h sluice.Host) error {
	if err := sluice.LoadConfig(h, p.load); err != nil {
		return err
	}
	if p.senders.empty() && p.rcpts.empty() {
		h.Log(sluice.LevelWarn, "config has no senders and no recipients: nothing is rewritten")
	}
	return nil
}

func (p *rewriter) load(c config) error {
	var err error
	if p.senders, err = newTable("senders", c.Senders); err != nil {
		return err
	}
	if p.rcpts, err = newTable("recipients", c.Recipients); err != nil {
		return err
	}
	p.headers = c.Headers
	return nil
}

// table maps addresses and domains to their replacements.
type table struct {
	exact   map[string]string // lower-cased address -> address
	domains map[string]string // lower-cased domain -> domain
}

func (t table) empty() bool { return len(t.exact) == 0 && len(t.domains) == 0 }

// newTable checks and indexes one configuration map; key names it in errors.
// Keys are visited in sorted order so the error for a bad map is stable.
func newTable(key string, m map[string]string) (table, error) {
	t := table{exact: map[string]string{}, domains: map[string]string{}}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, from := range keys {
		to := m[from]
		if d, ok := strings.CutPrefix(from, "@"); ok {
			if err := checkDomain(d); err != nil {
				return table{}, fmt.Errorf("%s: key %q: %w", key, from, err)
			}
			nd, ok := strings.CutPrefix(to, "@")
			if !ok {
				return table{}, fmt.Errorf("%s: %q is a domain (@domain) and must map to a domain, not %q", key, from, to)
			}
			if err := checkDomain(nd); err != nil {
				return table{}, fmt.Errorf("%s: value %q of %q: %w", key, to, from, err)
			}
			if err := add(t.domains, glob.Lower(d), nd); err != nil {
				return table{}, fmt.Errorf("%s: %q: %w", key, from, err)
			}
			continue
		}
		if err := checkAddress(from); err != nil {
			return table{}, fmt.Errorf("%s: key %q: %w", key, from, err)
		}
		if strings.HasPrefix(to, "@") {
			return table{}, fmt.Errorf("%s: %q is an address and must map to an address, not the domain %q", key, from, to)
		}
		if err := checkAddress(to); err != nil {
			return table{}, fmt.Errorf("%s: value %q of %q: %w", key, to, from, err)
		}
		if err := add(t.exact, glob.Lower(from), to); err != nil {
			return table{}, fmt.Errorf("%s: %q: %w", key, from, err)
		}
	}
	return t, nil
}

func add(m map[string]string, k, v string) error {
	if _, dup := m[k]; dup {
		return errors.New("given twice (keys are case-insensitive)")
	}
	m[k] = v
	return nil
}

// lookup returns the replacement of addr: the exact entry if there is one,
// else addr with its domain replaced by the domain entry. The null sender
// and addresses without a local part or domain have none.
func (t table) lookup(addr string) (string, bool) {
	if addr == "" {
		return "", false
	}
	if to, ok := t.exact[glob.Lower(addr)]; ok {
		return to, true
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", false
	}
	if nd, ok := t.domains[glob.Lower(strings.TrimSuffix(addr[at+1:], "."))]; ok {
		return addr[:at+1] + nd, true
	}
	return "", false
}

// maxAddress is the longest path the host accepts (RFC 5321 §4.5.3.1.3).
const maxAddress = 254

// checkAddress accepts local@domain with a dot-atom local part (RFC 5321
// §4.1.2 Dot-string; bytes from 0x80 on pass for RFC 6531 addresses) and a
// domain checkDomain accepts. Quoted local parts are refused: they cannot be
// matched reliably in headers.
func checkAddress(a string) error {
	if len(a) > maxAddress {
		return fmt.Errorf("longer than %d bytes", maxAddress)
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("contains byte 0x%02x", c)
		}
	}
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return errors.New("not an address (local@domain) or a domain (@domain)")
	}
	local := a[:at]
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return errors.New("local part must be a non-empty dot-atom")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '"' {
			return errors.New("quoted local parts are not supported")
		}
		if !isAtext(c) && c != '.' {
			return fmt.Errorf("local part contains byte 0x%02x", c)
		}
	}
	return checkDomain(a[at+1:])
}

// checkDomain accepts a host name: dot-separated labels of 1 to 63 letters,
// digits, hyphens (not at either end) or bytes from 0x80 on (U-labels,
// RFC 6531), at most 253 bytes, no trailing dot.
func checkDomain(d string) error {
	if d == "" {
		return errors.New("empty domain")
	}
	if len(d) > 253 {
		return errors.New("domain longer than 253 bytes")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("domain %q has an empty label or one longer than 63 bytes", d)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("domain %q has a label that starts or ends with '-'", d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return fmt.Errorf("domain %q contains byte 0x%02x", d, c)
			}
		}
	}
	return nil
}

// isAtext reports whether c is atext (RFC 5322 §3.2.3), counting bytes from
// 0x80 on as UTF-8 atext (RFC 6532 §3.2).
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
