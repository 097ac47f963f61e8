package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration; nil pointers are unset.
type config struct {
	Delay           *sluice.Duration `json:"delay"`
	RetryWindow     *sluice.Duration `json:"retry_window"`
	PassTTL         *sluice.Duration `json:"pass_ttl"`
	AutoAllowAfter  *int             `json:"auto_allow_after"`
	IPv4Prefix      *int             `json:"ipv4_prefix"`
	IPv6Prefix      *int             `json:"ipv6_prefix"`
	AllowClients    []string         `json:"allow_clients"`
	AllowRecipients []string         `json:"allow_recipients"`
	Code            int              `json:"code"`
	Enhanced        string           `json:"enhanced"`
	Message         string           `json:"message"`
	OnKVError       string           `json:"on_kv_error"`
}

// maxTTL is the longest lifetime the key/value store keeps (ABI §4.8).
var maxTTL = time.Duration(sluice.TTLMillis(1<<62)) * time.Millisecond

// greylist is the plugin; Configure fills it once per instance.
type greylist struct {
	delay, retryWindow, passTTL time.Duration
	autoAllowAfter              int
	v4bits, v6bits              int
	allowClients                []netip.Prefix
	allowRcpts                  []*glob.Glob
	reply                       sluice.Reply // the reject or tempfail reply
	onKVErrorContinue           bool         // on_kv_error = "continue"
}

func (p *greylist) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *greylist) load(c config) error {
	p.delay = orDuration(c.Delay, 5*time.Minute)
	p.retryWindow = orDuration(c.RetryWindow, 48*time.Hour)
	p.passTTL = orDuration(c.PassTTL, 35*24*time.Hour)
	switch {
	case p.delay < time.Second:
		return errors.New("delay must be at least 1s")
	case p.retryWindow <= p.delay:
		return errors.New("retry_window must be longer than delay")
	case p.retryWindow > maxTTL:
		return fmt.Errorf("retry_window must be at most %v, the key/value store's longest lifetime", maxTTL)
	case p.passTTL < time.Second:
		return errors.New("pass_ttl must be at least 1s")
	}

	switch c.OnKVError {
	case "", "tempfail":
		p.onKVErrorContinue = false
	case "continue":
		p.onKVErrorContinue = true
	default:
		return fmt.Errorf("on_kv_error %q is not \"tempfail\" or \"continue\"", c.OnKVError)
	}

	p.autoAllowAfter = orInt(c.AutoAllowAfter, 5)
	p.v4bits = orInt(c.IPv4Prefix, 24)
	p.v6bits = orInt(c.IPv6Prefix, 64)
	switch {
	case p.autoAllowAfter < 0:
		return errors.New("auto_allow_after must be 0 (off) or more")
	case p.v4bits < 1 || p.v4bits > 32:
		return fmt.Errorf("ipv4_prefix %d is outside 1 to 32", p.v4bits)
	case p.v6bits < 1 || p.v6bits > 128:
		return fmt.Errorf("ipv6_prefix %d is outside 1 to 128", p.v6bits)
	}

	p.allowClients = p.allowClients[:0]
	for _, s := range c.AllowClients {
		pfx, err := parseClient(s)
		if err != nil {
			return fmt.Errorf("allow_clients: %q: %w", s, err)
		}
		p.allowClients = append(p.allowClients, pfx)
	}
	p.allowRcpts = p.allowRcpts[:0]
	for _, s := range c.AllowRecipients {
		g, err := compileGlob(s)
		if err != nil {
			return fmt.Errorf("allow_recipients: %q: %w", s, err)
		}
		p.allowRcpts = append(p.allowRcpts, g)
	}

	if c.Code != 0 && (c.Code < 400 || c.Code > 499) {
		return fmt.Errorf("code %d is not a 4xx reply code (greylisting only defers)", c.Code)
	}
	var err error
	p.reply, err = sluice.ConfigReply(sluice.Reply{Code: c.Code, Enhanced: c.Enhanced, Text: c.Message},
		sluice.Reply{Code: 451, Enhanced: "4.7.1", Text: "Greylisted, please try again later"}, 0)
	if err != nil {
		return err
	}
	return nil
}

// parseClient parses a CIDR or a bare address (a /32 or /128).
func parseClient(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR prefix")
		}
		if pfx.Addr().Is4In6() {
			if pfx.Bits() < 96 {
				return netip.Prefix{}, errors.New("IPv4-mapped prefix shorter than /96")
			}
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		return pfx.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func orDuration(d *sluice.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

func orInt(n *int, def int) int {
	if n == nil {
		return def
	}
	return *n
}

// compileGlob compiles an allow_recipients pattern; an empty one or one
// with whitespace is refused.
func compileGlob(s string) (*glob.Glob, error) {
	if s == "" {
		return nil, errors.New("empty pattern")
	}
	return glob.Compile(s)
}
