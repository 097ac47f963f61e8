package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/glob"

	"fmt"
	"strings"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	DenySenders           []string `json:"deny_senders"`
	DenyRecipients        []string `json:"deny_recipients"`
	AllowRecipientDomains []string `json:"allow_recipient_domains"`
	Code                  int      `json:"code"`
	Enhanced              string   `json:"enhanced"`
	Message               string   `json:"message"`
}

// access is the plugin; Configure fills it once per instance.
type access struct {
	denySenders  []*glob.Glob
	denyRcpts    []*glob.Glob
	allowDomains []*glob.Glob
	reply        sluice.Reply // the reject or tempfail reply
}

func (p *access) Configure(h sluice.Host) error {
	if err := sluice.LoadConfig(h, p.load); err != nil {
		return err
	}
	if len(p.denySenders)+len(p.denyRcpts)+len(p.allowDomains) == 0 {
		h.Log(sluice.LevelWarn, "config has no deny_senders, deny_recipients or allow_recipient_domains: everything passes")
	}
	return nil
}

func (p *access) load(c config) error {
	var err error
	if p.denySenders, err = compileAll("deny_senders", c.DenySenders); err != nil {
		return err
	}
	if p.denyRcpts, err = compileAll("deny_recipients", c.DenyRecipients); err != nil {
		return err
	}
	if p.allowDomains, err = compileAll("allow_recipient_domains", c.AllowRecipientDomains); err != nil {
		return err
	}
	for _, d := range c.AllowRecipientDomains {
		if d == "" || strings.Contains(d, "@") {
			return fmt.Errorf("allow_recipient_domains: %q is not a domain pattern", d)
		}
	}

	p.reply, err = sluice.ConfigReply(sluice.Reply{Code: c.Code, Enhanced: c.Enhanced, Text: c.Message},
		sluice.Reply{Code: 550, Enhanced: "5.7.1", Text: "Access denied"}, 0)
	return err
}

func compileAll(key string, patterns []string) ([]*glob.Glob, error) {
	out := make([]*glob.Glob, 0, len(patterns))
	for _, s := range patterns {
		g, err := glob.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", key, s, err)
		}
		out = append(out, g)
	}
	return out, nil
}
