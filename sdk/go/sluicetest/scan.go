package sluicetest

import (
	"github.com/sluice-mail/sluice/gateway/scan"
	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Content scanning (ABI §4.12) is emulated with canned results: a test
// sets what a scanner answers with SetScanResult or SetScanError, which
// also grants the scanner as grants = ["scan:NAME"] and a scanner block
// would. Members read with ScanValue are those of the real host
// (gateway/scan Result.Value).

// cannedScan is what a granted scanner answers.
type cannedScan struct {
	result *scan.Result
	reason string // TEMPERROR with this reason when result is nil
	count  int    // scans so far
}

// SetScanResult grants the plugin the scanner name and makes it answer r.
func (s *Session) SetScanResult(name string, r sluice.ScanResult) {
	c := s.scanner(name)
	c.result, c.reason = toScanResult(r), ""
}

// SetScanError grants the plugin the scanner name and makes it fail as an
// unreachable, timed-out or garbled scanner does: Scan returns a
// *sluice.ScanError with reason.
func (s *Session) SetScanError(name, reason string) {
	c := s.scanner(name)
	c.result, c.reason = nil, reason
}

// ScanCount is how many times the plugin had the scanner name scan a
// message.
func (s *Session) ScanCount(name string) int {
	if c := s.scans[name]; c != nil {
		return c.count
	}
	return 0
}

func (s *Session) scanner(name string) *cannedScan {
	if s.scans == nil {
		s.scans = map[string]*cannedScan{}
	}
	c := s.scans[name]
	if c == nil {
		c = &cannedScan{reason: "no result set"}
		s.scans[name] = c
	}
	return c
}

func toScanResult(r sluice.ScanResult) *scan.Result {
	out := &scan.Result{Engine: r.Engine, Skipped: r.Skipped, Action: r.Action, Score: r.Score,
		RequiredScore: r.RequiredScore, Spam: r.Spam, Message: r.Message, Subject: r.Subject,
		Report: r.Report, Infected: r.Infected, Virus: r.Virus}
	for _, y := range r.Symbols {
		out.Symbols = append(out.Symbols, scan.Symbol{Name: y.Name, Score: y.Score})
	}
	for _, h := range r.AddHeaders {
		out.AddHeaders = append(out.AddHeaders, scan.AddHeader{Name: h.Name, Value: h.Value, Order: h.Order})
	}
	for _, h := range r.RemoveHeaders {
		out.RemoveHeaders = append(out.RemoveHeaders, scan.RemoveHeader{Name: h.Name, Index: h.Index})
	}
	return out
}

func (h *host) Scan(name string) (*sluice.ScanResult, error) {
	s := h.enter(abi.FnScan)
	c := s.scans[name]
	if c == nil {
		trapf("scan: scanner %q is not granted to this plugin (Session.SetScanResult)", name)
	}
	h.scanLast = nil
	if s.phase != PhaseData {
		return nil, sluice.ErrNotFound
	}
	c.count++
	h.effect("scan %q", name)
	if c.result == nil {
		return nil, &sluice.ScanError{Reason: c.reason}
	}
	h.scanLast = c.result
	r := c.result
	out := &sluice.ScanResult{Engine: r.Engine, Skipped: r.Skipped, Action: r.Action, Score: r.Score,
		RequiredScore: r.RequiredScore, Spam: r.Spam, Message: r.Message, Subject: r.Subject,
		Report: r.Report, Infected: r.Infected, Virus: r.Virus}
	for _, y := range r.Symbols {
		out.Symbols = append(out.Symbols, sluice.ScanSymbol{Name: y.Name, Score: y.Score})
	}
	for _, x := range r.AddHeaders {
		out.AddHeaders = append(out.AddHeaders, sluice.ScanHeader{Name: x.Name, Value: x.Value, Order: x.Order})
	}
	for _, x := range r.RemoveHeaders {
		out.RemoveHeaders = append(out.RemoveHeaders, sluice.ScanHeader{Name: x.Name, Index: x.Index})
	}
	return out, nil
}

func (h *host) ScanValue(key string) (string, bool) {
	h.enter(abi.FnScanValue)
	if h.scanLast == nil {
		return "", false
	}
	return h.scanLast.Value(key)
}
