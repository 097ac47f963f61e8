package sluice

import (
	"strconv"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// ScanResult is a content scanner's verdict (ABI §4.12): rspamd sets
// Action, Score, RequiredScore, Symbols, Message, Subject and the header
// changes; spamd Spam, Score, RequiredScore, Symbols and Report; clamd
// Infected and Virus. Skipped is "too large" when the message was over the
// scanner's max_size and was not scanned.
type ScanResult struct {
	Engine        string // "rspamd", "clamd" or "spamd"
	Skipped       string
	Action        string // rspamd: "no action", "greylist", "add header", "rewrite subject", "soft reject", "reject"
	Score         float64
	RequiredScore float64
	Spam          bool
	Symbols       []ScanSymbol
	Message       string // rspamd's SMTP message, "" if none
	Subject       string // rspamd's subject for "rewrite subject", "" if none
	Report        string // spamd's report
	AddHeaders    []ScanHeader
	RemoveHeaders []ScanHeader // Index 0 removes every instance, N the Nth
	Infected      bool
	Virus         string // clamd's signature name
}

// ScanSymbol is one rule that matched. Its description and options are
// available from the host with the scan_value keys of ABI §4.12.
type ScanSymbol struct {
	Name  string
	Score float64
}

// ScanHeader is a header change rspamd asks for in its milter block: a
// field to add (Name, Value, Order: 0 is the default place) or to remove
// (Name, Index).
type ScanHeader struct {
	Name  string
	Value string
	Order int
	Index int
}

// Engines of ScanResult.Engine, and its Skipped value.
const (
	EngineRspamd    = "rspamd"
	EngineClamd     = "clamd"
	EngineSpamd     = "spamd"
	SkippedTooLarge = "too large"
)

// ScanError is the error of Host.Scan when the scanner was unreachable,
// timed out or answered garbage; errors.Is(err, ErrTemporary) holds.
type ScanError struct{ Reason string }

func (e *ScanError) Error() string { return "sluice: scan failed: " + e.Reason }

// Unwrap makes a ScanError an ErrTemporary.
func (e *ScanError) Unwrap() error { return ErrTemporary }

// Scan runs scan without a buffer (the host keeps the result for the call)
// and reads the members with scan_value: parsing the JSON in the guest
// would cost far more (ABI §4.12).
func (g *guestHost) Scan(name string) (*ScanResult, error) {
	switch n := g.raw.scan(name, nil); {
	case n == abi.ErrNotFound:
		return nil, ErrNotFound
	case n == abi.ErrTemporary:
		reason, _ := g.fetchString(func(buf []byte) int32 { return g.raw.scanValue(abi.ScanKeyError, buf) })
		return nil, &ScanError{Reason: reason}
	case n < 0:
		return nil, &ScanError{Reason: "unexpected host result"}
	}
	get := func(key string) string {
		v, _ := g.fetchString(func(buf []byte) int32 { return g.raw.scanValue(key, buf) })
		return v
	}
	num := func(key string) float64 {
		f, _ := strconv.ParseFloat(get(key), 64)
		return f
	}
	count := func(key string) int {
		n, err := strconv.Atoi(get(key))
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	r := &ScanResult{Engine: get("engine"), Skipped: get("skipped")}
	if r.Skipped != "" {
		return r, nil
	}
	switch r.Engine {
	case EngineClamd:
		r.Infected = get("infected") == "true"
		r.Virus = get("virus")
		return r, nil
	case EngineRspamd:
		r.Action, r.Message, r.Subject = get("action"), get("message"), get("subject")
	case EngineSpamd:
		r.Report = get("report")
	}
	r.Score, r.RequiredScore, r.Spam = num("score"), num("required_score"), get("spam") == "true"
	if n := count("symbols.count"); n > 0 {
		r.Symbols = make([]ScanSymbol, n)
		for i := range r.Symbols {
			p := "symbols." + strconv.Itoa(i) + "."
			r.Symbols[i] = ScanSymbol{Name: get(p + "name"), Score: num(p + "score")}
		}
	}
	if n := count("add_headers.count"); n > 0 {
		r.AddHeaders = make([]ScanHeader, n)
		for i := range r.AddHeaders {
			p := "add_headers." + strconv.Itoa(i) + "."
			o, _ := strconv.Atoi(get(p + "order"))
			r.AddHeaders[i] = ScanHeader{Name: get(p + "name"), Value: get(p + "value"), Order: o}
		}
	}
	if n := count("remove_headers.count"); n > 0 {
		r.RemoveHeaders = make([]ScanHeader, n)
		for i := range r.RemoveHeaders {
			p := "remove_headers." + strconv.Itoa(i) + "."
			x, _ := strconv.Atoi(get(p + "index"))
			r.RemoveHeaders[i] = ScanHeader{Name: get(p + "name"), Index: x}
		}
	}
	return r, nil
}

// ScanValue returns one member of the last Scan result of this hook call
// by its ABI §4.12 key, such as "symbols.GTUBE.options".
func (g *guestHost) ScanValue(key string) (string, bool) {
	return g.fetchString(func(buf []byte) int32 { return g.raw.scanValue(key, buf) })
}
