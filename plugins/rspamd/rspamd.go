package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-mail/sluice/plugins/internal/scanverdict"
	"github.com/sluice-mail/sluice/plugins/internal/toggle"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// config is the plugin's policy configuration.
type config struct {
	scanverdict.Config
	// Greylist is what rspamd's "greylist" action does: "tempfail"
	// (default, 451 4.7.1) or "continue".
	Greylist string `json:"greylist"`
	// SymbolsHeader adds X-Spam-Symbols with the symbols that matched.
	SymbolsHeader bool `json:"symbols_header"`
	// SubjectPrefix is put before the Subject for "rewrite subject" when
	// rspamd gives no subject of its own.
	SubjectPrefix *string `json:"subject_prefix"`
}

// defaultPrefix is rspamd's own default subject for "rewrite subject".
const defaultPrefix = "*** SPAM *** "

// rspamd is the plugin; Configure fills it once per instance.
type rspamd struct {
	scanverdict.Scanner
	greylistPass bool
	symbols      bool
	prefix       string
}

// The header fields the plugin writes; fields of these names already in
// the message are removed first, so a sender cannot forge them.
const (
	hdrSpam    = "X-Spam"
	hdrScore   = "X-Spam-Score"
	hdrAction  = "X-Spam-Action"
	hdrSymbols = "X-Spam-Symbols"
)

func (p *rspamd) Configure(h sluice.Host) error {
	return sluice.LoadConfig(h, p.load)
}

func (p *rspamd) load(c config) error {
	err := p.Load(c.Config)
	if err != nil {
		return err
	}
	if p.greylistPass, err = toggle.Parse("greylist", c.Greylist, "tempfail", "continue"); err != nil {
		return err
	}
	p.symbols = c.SymbolsHeader
	p.prefix = defaultPrefix
	if c.SubjectPrefix != nil {
		p.prefix = *c.SubjectPrefix
		if strings.ContainsAny(p.prefix, "\r\n\x00") {
			return fmt.Errorf("subject_prefix: %q holds a line break or NUL", p.prefix)
		}
	}
	return nil
}

// OnData scans the message and acts on rspamd's action.
func (p *rspamd) OnData(h sluice.Host) sluice.Verdict {
	r, err := p.Scan(h)
	if err != nil {
		return p.Fail(h, err)
	}
	for _, name := range []string{hdrSpam, hdrScore, hdrAction, hdrSymbols} {
		scanverdict.DeleteAll(h, name)
	}
	if r.Skipped != "" {
		h.Log(sluice.LevelInfo, "message not scanned: "+r.Skipped)
		h.AddHeader(hdrAction, "skipped ("+r.Skipped+")")
		return sluice.VerdictContinue
	}
	milter(h, r)
	h.AddHeader(hdrScore, score(r.Score)+" / "+score(r.RequiredScore))
	h.AddHeader(hdrAction, scanverdict.HeaderValue(r.Action))
	if p.symbols && len(r.Symbols) > 0 {
		names := make([]string, len(r.Symbols))
		for i, s := range r.Symbols {
			names[i] = s.Name + "(" + score(s.Score) + ")"
		}
		h.AddHeader(hdrSymbols, scanverdict.HeaderValue(strings.Join(names, ", ")))
	}
	switch r.Action {
	case "reject":
		return sluice.Reject(h, 554, "5.7.1", scanverdict.ReplyText(r.Message, "Spam message rejected"))
	case "soft reject":
		return sluice.Tempfail(h, 451, "4.7.1", scanverdict.ReplyText(r.Message, "Try again later"))
	case "greylist":
		if p.greylistPass {
			return sluice.VerdictContinue
		}
		return sluice.Tempfail(h, 451, "4.7.1", scanverdict.ReplyText(r.Message, "Greylisted, try again later"))
	case "rewrite subject":
		p.rewriteSubject(h, r.Subject)
	case "add header":
		h.AddHeader(hdrSpam, "Yes")
	}
	return sluice.VerdictContinue
}

// score renders a score with two decimals, as rspamd's own headers do.
func score(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// milter applies rspamd's milter block: the header changes its modules ask
// for. Removals come first; an invalid name is skipped.
func milter(h sluice.Host, r *sluice.ScanResult) {
	for _, x := range r.RemoveHeaders {
		if !scanverdict.ValidName(x.Name) {
			continue
		}
		if x.Index <= 0 {
			scanverdict.DeleteAll(h, x.Name)
		} else if i, ok := h.FindHeader(x.Name, x.Index-1); ok {
			h.DeleteHeader(i)
		}
	}
	for _, x := range r.AddHeaders {
		if !scanverdict.ValidName(x.Name) {
			continue
		}
		v := scanverdict.HeaderValue(x.Value)
		// order N puts the field at position N-1 from the top; 0 (and a
		// position past the end) appends it.
		if x.Order <= 0 || !h.InsertHeader(x.Order-1, x.Name, v) {
			h.AddHeader(x.Name, v)
		}
	}
}

// rewriteSubject sets rspamd's subject, or prefixes the current one.
func (p *rspamd) rewriteSubject(h sluice.Host, subject string) {
	i, ok := h.FindHeader("Subject", 0)
	if subject == "" {
		if !ok {
			h.AddHeader("Subject", strings.TrimSpace(p.prefix))
			return
		}
		v, _ := h.HeaderValue(i)
		v = strings.TrimLeft(v, " \t")
		if strings.HasPrefix(v, p.prefix) {
			return
		}
		h.ChangeHeader(i, p.prefix+v)
		return
	}
	subject = scanverdict.HeaderValue(subject)
	if !ok {
		h.AddHeader("Subject", subject)
		return
	}
	h.ChangeHeader(i, subject)
}
