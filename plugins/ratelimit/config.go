package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// ruleConfig is one rule as configured.
type ruleConfig struct {
	Key    string           `json:"key"`
	Limit  int              `json:"limit"`
	Window *sluice.Duration `json:"window"`
	Phase  string           `json:"phase"`
}

// config is the plugin's policy configuration.
type config struct {
	Rules    []ruleConfig `json:"rules"`
	Code     int          `json:"code"`
	Enhanced string       `json:"enhanced"`
	Message  string       `json:"message"`
	// OnKVError is "continue" (the default) or "tempfail".
	OnKVError string `json:"on_kv_error"`
}

// Rule key kinds.
const (
	kindClientIP     = "client_ip"
	kindSender       = "sender"
	kindSenderDomain = "sender_domain"
	kindRecipient    = "recipient"
)

// Phases a rule can count in.
const (
	phaseMail = "mail"
	phaseRcpt = "rcpt"
)

// maxTTL is the longest lifetime the key/value store keeps (ABI §4.8).
var maxTTL = time.Duration(sluice.TTLMillis(1<<62)) * time.Millisecond

// rule is a checked rule; prefix starts its store keys.
type rule struct {
	kind   string
	limit  int
	window time.Duration
	prefix string
}

// ratelimit is the plugin; Configure fills it once per instance.
type ratelimit struct {
	mail, rcpt []rule
	reply      sluice.Reply // the reject or tempfail reply
	// onKVErrorTempfail: on_kv_error = "tempfail"
	onKVErrorTempfail bool
}

func (p *ratelimit) Configure(h sluice.Host) error {
	var c config
	if err := sluice.DecodeConfig(h, &c); err != nil {
		return err
	}
	if err := p.load(c); err != nil {
		return err
	}
	if len(c.Rules) == 0 {
		h.Log(sluice.LevelWarn, "config has no rules: nothing is limited")
	}
	return nil
}

func (p *ratelimit) load(c config) error {
	p.mail, p.rcpt = nil, nil
	switch c.OnKVError {
	case "", "continue":
		p.onKVErrorTempfail = false
	case "tempfail":
		p.onKVErrorTempfail = true
	default:
		return fmt.Errorf("on_kv_error %q is not \"continue\" or \"tempfail\"", c.OnKVError)
	}
	seen := map[string]int{}
	for i, rc := range c.Rules {
		r, phase, err := checkRule(rc)
		if err != nil {
			return fmt.Errorf("rules[%d]: %w", i, err)
		}
		if j, dup := seen[r.prefix]; dup {
			return fmt.Errorf("rules[%d]: same key, phase and window as rules[%d]", i, j)
		}
		seen[r.prefix] = i
		if phase == phaseMail {
			p.mail = append(p.mail, r)
		} else {
			p.rcpt = append(p.rcpt, r)
		}
	}

	var err error
	p.reply, err = sluice.ConfigReply(sluice.Reply{Code: c.Code, Enhanced: c.Enhanced, Text: c.Message},
		sluice.Reply{Code: 451, Enhanced: "4.7.1", Text: "Rate limit exceeded, try again later"}, 0)
	if err != nil {
		return err
	}
	return nil
}

func checkRule(rc ruleConfig) (rule, string, error) {
	switch rc.Key {
	case kindClientIP, kindSender, kindSenderDomain, kindRecipient:
	case "":
		return rule{}, "", errors.New("key is missing")
	default:
		return rule{}, "", fmt.Errorf("unknown key %q (client_ip, sender, sender_domain or recipient)", rc.Key)
	}
	phase := rc.Phase
	if phase == "" {
		phase = phaseMail
		if rc.Key == kindRecipient {
			phase = phaseRcpt
		}
	}
	switch {
	case phase != phaseMail && phase != phaseRcpt:
		return rule{}, "", fmt.Errorf("unknown phase %q (mail or rcpt)", rc.Phase)
	case rc.Key == kindRecipient && phase != phaseRcpt:
		return rule{}, "", errors.New(`key "recipient" is only known in phase "rcpt"`)
	case rc.Limit < 1:
		return rule{}, "", fmt.Errorf("limit %d is below 1", rc.Limit)
	case rc.Window == nil:
		return rule{}, "", errors.New("window is missing")
	}
	w := time.Duration(*rc.Window)
	if w < time.Second {
		return rule{}, "", errors.New("window must be at least 1s")
	}
	if w > maxTTL {
		return rule{}, "", fmt.Errorf("window must be at most %v, the key/value store's longest lifetime", maxTTL)
	}
	prefix := "rl1:" + rc.Key + ":" + phase + ":" + strconv.FormatInt(w.Milliseconds(), 10) + ":"
	return rule{kind: rc.Key, limit: rc.Limit, window: w, prefix: prefix}, phase, nil
}
