package sluicetest

import (
	"errors"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

func TestScanCanned(t *testing.T) {
	s := New()
	if err := s.SetMessage([]byte("Subject: hi\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	s.SetScanResult("spam", sluice.ScanResult{Engine: sluice.EngineRspamd, Action: "reject", Score: 20, RequiredScore: 15,
		Symbols: []sluice.ScanSymbol{{Name: "GTUBE", Score: 0}}})
	s.SetScanError("virus", "connection refused")
	var got *sluice.ScanResult
	var verr error
	var sym string
	r := s.Run(PhaseData, func(h sluice.Host) sluice.Verdict {
		got, _ = h.Scan("spam")
		sym, _ = h.ScanValue("symbols.GTUBE.score")
		_, verr = h.Scan("virus")
		return sluice.VerdictContinue
	})
	if r.Err != nil || got == nil || got.Action != "reject" || got.Score != 20 || len(got.Symbols) != 1 || sym != "0" {
		t.Errorf("Scan = %+v, ScanValue = %q, err %v", got, sym, r.Err)
	}
	var se *sluice.ScanError
	if !errors.As(verr, &se) || !errors.Is(verr, sluice.ErrTemporary) || se.Reason != "connection refused" {
		t.Errorf("failing scanner: %v", verr)
	}
	if s.ScanCount("spam") != 1 || s.ScanCount("virus") != 1 {
		t.Errorf("scan counts %d, %d", s.ScanCount("spam"), s.ScanCount("virus"))
	}
	// Outside data: ErrNotFound; an ungranted scanner traps.
	r = s.Run(PhaseMail, func(h sluice.Host) sluice.Verdict {
		if _, err := h.Scan("spam"); !errors.Is(err, sluice.ErrNotFound) {
			t.Errorf("Scan at mail: %v", err)
		}
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		t.Error(r.Err)
	}
	r = s.Run(PhaseData, func(h sluice.Host) sluice.Verdict {
		h.Scan("other")
		return sluice.VerdictContinue
	})
	if r.Err == nil {
		t.Error("Scan of an ungranted scanner did not trap")
	}
}
