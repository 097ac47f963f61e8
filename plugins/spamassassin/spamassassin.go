package main

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/scanverdict"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	scanverdict.Config
	// RejectScore rejects a message scoring at or above it (554 5.7.1);
	// absent: never reject, only mark.
	RejectScore *float64 `json:"reject_score"`
}

// spamassassin is the plugin; Configure fills it once per instance.
type spamassassin struct {
	scanverdict.Scanner
	reject      bool
	rejectScore float64
}

// The header fields the plugin writes; fields of these names already in
// the message are removed first, so a sender cannot forge them.
const (
	hdrStatus = "X-Spam-Status"
	hdrScore  = "X-Spam-Score"
	hdrFlag   = "X-Spam-Flag"
)

func (p *spamassassin) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *spamassassin) load(c config) error {
	if err := p.Load(c.Config); err != nil {
		return err
	}
	p.reject = c.RejectScore != nil
	if p.reject {
		p.rejectScore = *c.RejectScore
		if math.IsNaN(p.rejectScore) || math.IsInf(p.rejectScore, 0) {
			return errors.New("reject_score: not a finite number")
		}
	}
	return nil
}

// OnData scans the message, marks it and rejects at reject_score.
func (p *spamassassin) OnData(h sluice.Host) sluice.Verdict {
	r, err := p.Scan(h)
	if err != nil {
		return p.Fail(h, err)
	}
	for _, name := range []string{hdrStatus, hdrScore, hdrFlag} {
		scanverdict.DeleteAll(h, name)
	}
	if r.Skipped != "" {
		h.Log(sluice.LevelInfo, "message not scanned: "+r.Skipped)
		h.AddHeader(hdrStatus, "skipped ("+r.Skipped+")")
		return sluice.VerdictContinue
	}
	if p.reject && r.Score >= p.rejectScore {
		return sluice.Reject(h, 554, "5.7.1", "Spam message rejected (score "+num(r.Score)+")")
	}
	yes := "No"
	if r.Spam {
		yes = "Yes"
		h.AddHeader(hdrFlag, "YES")
	} else {
		h.AddHeader(hdrFlag, "NO")
	}
	tests := make([]string, 0, len(r.Symbols))
	for _, s := range r.Symbols {
		tests = append(tests, s.Name)
	}
	if len(tests) == 0 {
		tests = append(tests, "none")
	}
	h.AddHeader(hdrScore, num(r.Score))
	h.AddHeader(hdrStatus, scanverdict.HeaderValue(yes+", score="+num(r.Score)+" required="+num(r.RequiredScore)+
		" tests="+strings.Join(tests, ",")))
	return sluice.VerdictContinue
}

// num renders a score with one decimal, as SpamAssassin's own headers do.
func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
