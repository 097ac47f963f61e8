package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// level is one level of limits in the configuration; nil is unset.
type level struct {
	MaxSize  *byteSize `json:"max_size"`
	MaxRcpts *int      `json:"max_rcpts"`
}

// config is the plugin's policy configuration.
type config struct {
	Default       level            `json:"default"`
	Senders       map[string]level `json:"senders"`
	Domains       map[string]level `json:"domains"`
	CodeSize      int              `json:"code_size"`
	EnhancedSize  string           `json:"enhanced_size"`
	CodeRcpts     int              `json:"code_rcpts"`
	EnhancedRcpts string           `json:"enhanced_rcpts"`
}

// limit is the effective limits for one sender; 0 is no limit.
type limit struct {
	maxSize  int64
	maxRcpts int
}

// over returns l with the fields that lv sets replaced.
func (l limit) over(lv level) limit {
	if lv.MaxSize != nil {
		l.maxSize = int64(*lv.MaxSize)
	}
	if lv.MaxRcpts != nil {
		l.maxRcpts = *lv.MaxRcpts
	}
	return l
}

// reply is a configured SMTP reply.
type reply struct {
	code     int
	enhanced string
}

// limiter is the plugin; Configure fills it once per instance. Sender and
// domain entries are resolved against the less specific levels here, so a
// lookup is one map access.
type limiter struct {
	def     limit
	senders map[string]limit // lower-cased address
	domains map[string]limit // lower-cased domain
	size    reply
	rcpts   reply
}

// Configure decodes and checks the configuration; any problem refuses it.
func (p *limiter) Configure(h sluice.Host) error {
	if err := sluice.LoadConfig(h, p.load); err != nil {
		return err
	}
	if p.def == (limit{}) && len(p.senders) == 0 && len(p.domains) == 0 {
		h.Log(sluice.LevelWarn, "config sets no limits: everything passes")
	}
	if p.def.maxRcpts != 0 && p.def.maxRcpts < 100 {
		// RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients.
		sluice.Warnf(h, "default max_rcpts %d is below the 100 recipients RFC 5321 §4.5.3.1.8 requires a server to accept", p.def.maxRcpts)
	}
	return nil
}

func (p *limiter) load(c config) error {
	if err := checkLevel("default", c.Default); err != nil {
		return err
	}
	p.def = limit{}.over(c.Default)

	p.domains = make(map[string]limit, len(c.Domains))
	for _, d := range sortedKeys(c.Domains) {
		if strings.Contains(d, "@") {
			return fmt.Errorf("domains: %q: write the domain without '@'", d)
		}
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("domains: %q: %w", d, err)
		}
		if err := checkLevel("domains: "+strconv.Quote(d), c.Domains[d]); err != nil {
			return err
		}
		k := lower(d)
		if _, dup := p.domains[k]; dup {
			return fmt.Errorf("domains: %q: given twice (keys are case-insensitive)", d)
		}
		p.domains[k] = p.def.over(c.Domains[d])
	}

	p.senders = make(map[string]limit, len(c.Senders))
	for _, a := range sortedKeys(c.Senders) {
		at := strings.LastIndexByte(a, '@')
		if at <= 0 || strings.ContainsAny(a, " \t\r\n<>") {
			return fmt.Errorf("senders: %q is not an address local@domain", a)
		}
		if err := checkDomain(a[at+1:]); err != nil {
			return fmt.Errorf("senders: %q: %w", a, err)
		}
		if err := checkLevel("senders: "+strconv.Quote(a), c.Senders[a]); err != nil {
			return err
		}
		k := lower(a)
		if _, dup := p.senders[k]; dup {
			return fmt.Errorf("senders: %q: given twice (keys are case-insensitive)", a)
		}
		base, ok := p.domains[k[at+1:]]
		if !ok {
			base = p.def
		}
		p.senders[k] = base.over(c.Senders[a])
	}

	var err error
	if p.size, err = loadReply("code_size", "enhanced_size", c.CodeSize, c.EnhancedSize, 552, "3.4"); err != nil {
		return err
	}
	if p.rcpts, err = loadReply("code_rcpts", "enhanced_rcpts", c.CodeRcpts, c.EnhancedRcpts, 452, "5.3"); err != nil {
		return err
	}
	return nil
}

// checkLevel refuses limits below 1: an unset field is how a level says
// "inherit", and there is no useful limit of 0.
func checkLevel(where string, lv level) error {
	if lv.MaxSize != nil && *lv.MaxSize < 1 {
		return fmt.Errorf("%s: max_size must be at least 1 byte", where)
	}
	if lv.MaxRcpts != nil && *lv.MaxRcpts < 1 {
		return fmt.Errorf("%s: max_rcpts must be at least 1", where)
	}
	return nil
}

// loadReply checks a configured code and enhanced code; the enhanced code
// defaults to class.detail, class taken from the code (RFC 3463 §3.4: X.3.4
// message too big for system, §3.6: X.5.3 too many recipients).
func loadReply(codeKey, enhKey string, code int, enh string, defCode int, detail string) (reply, error) {
	if code == 0 {
		code = defCode
	}
	if code < 400 || code > 599 {
		return reply{}, fmt.Errorf("%s %d is not a 4xx or 5xx reply code", codeKey, code)
	}
	class := strconv.Itoa(code / 100)
	if enh == "" {
		enh = class + "." + detail
	}
	if err := sluice.CheckEnhanced(enh, code); err != nil {
		return reply{}, fmt.Errorf("%s %q: %w", enhKey, enh, err)
	}
	return reply{code, enh}, nil
}

// checkDomain accepts a host name: dot-separated labels of 1 to 63 letters,
// digits, hyphens or bytes from 0x80 on (U-labels, RFC 6531), at most 253
// bytes, no trailing dot.
func checkDomain(d string) error {
	if d == "" || len(d) > 253 {
		return errors.New("domain must be 1 to 253 bytes")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("domain has an empty label or one longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return fmt.Errorf("domain contains byte 0x%02x", c)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]level) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lower lower-cases ASCII letters only, keeping other bytes as they are.
func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
