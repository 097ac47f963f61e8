package main

import (
	"github.com/sluice-mail/sluice/plugins/internal/scanverdict"
	"github.com/sluice-mail/sluice/plugins/internal/toggle"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	scanverdict.Config
	// Action is what an infected message gets: "reject" (default, 554
	// 5.7.0) or "quarantine".
	Action string `json:"action"`
}

// clamav is the plugin; Configure fills it once per instance.
type clamav struct {
	scanverdict.Scanner
	quarantine bool
}

// hdrScanned is added to a clean message (fields of that name already in
// the message are removed first, so a sender cannot forge it).
const hdrScanned = "X-Virus-Scanned"

func (p *clamav) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *clamav) load(c config) error {
	err := p.Load(c.Config)
	if err != nil {
		return err
	}
	p.quarantine, err = toggle.Parse("action", c.Action, "reject", "quarantine")
	return err
}

// OnData scans the message.
func (p *clamav) OnData(h sluice.Host) sluice.Verdict {
	r, err := p.Scan(h)
	if err != nil {
		return p.Fail(h, err)
	}
	scanverdict.DeleteAll(h, hdrScanned)
	switch {
	case r.Skipped != "":
		h.Log(sluice.LevelInfo, "message not scanned: "+r.Skipped)
		h.AddHeader(hdrScanned, "clamav, skipped ("+r.Skipped+")")
		return sluice.VerdictContinue
	case r.Infected:
		why := scanverdict.ReplyText("Virus found: "+r.Virus, "Virus found")
		h.Log(sluice.LevelInfo, why)
		if p.quarantine {
			return sluice.Quarantine(h, why)
		}
		return sluice.Reject(h, 554, "5.7.0", why)
	}
	h.AddHeader(hdrScanned, "clamav")
	return sluice.VerdictContinue
}
