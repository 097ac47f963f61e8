package main

import (
	"fmt"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's configuration as JSON.
type config struct {
	Reject     *bool  `json:"reject"`
	Quarantine *bool  `json:"quarantine"`
	RejectText string `json:"reject_text"`
}

// defaultRejectText is the reply text of a rejection.
const defaultRejectText = "DMARC policy of %domain% rejects this message"

// enforcer is the plugin; Configure fills it once per instance.
type enforcer struct {
	reject, quarantine bool
	text               string // reply text with %domain%
	// sample reports whether a failing message falls within the pct
	// percent its policy applies to; nil means sampleRandom. Tests set it.
	sample func(pct int) bool
}

// Configure decodes and checks the configuration; any problem refuses it.
func (p *enforcer) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *enforcer) load(c config) error {
	p.reject = c.Reject == nil || *c.Reject
	p.quarantine = c.Quarantine == nil || *c.Quarantine
	p.text = c.RejectText
	if p.text == "" {
		p.text = defaultRejectText
	}
	// The longest domain replaces %domain%: check the text as it can be sent.
	if err := sluice.CheckReplyText(replyText(p.text, longestDomain), 400); err != nil {
		return fmt.Errorf("reject_text (with %%domain%% replaced by a domain of up to %d bytes): %w", maxDomain, err)
	}
	return nil
}
