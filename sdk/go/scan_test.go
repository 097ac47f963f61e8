package sluice

import (
	"errors"
	"reflect"
	"testing"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// fakeScanValues is the result scan_value serves after a scan of "spam".
var fakeScanValues = map[string]string{
	"engine": "rspamd", "action": "rewrite subject", "score": "7.25", "required_score": "15", "spam": "true",
	"message": "", "subject": "*** SPAM *** hi", "symbols.count": "2",
	"symbols.0.name": "BAYES_SPAM", "symbols.0.score": "5", "symbols.1.name": "R_SPF_FAIL", "symbols.1.score": "2.25",
	"add_headers.count": "1", "add_headers.0.name": "X-Foo", "add_headers.0.value": "bar", "add_headers.0.order": "1",
	"remove_headers.count": "1", "remove_headers.0.name": "X-Spam", "remove_headers.0.index": "0",
	"infected": "false",
}

func (f *fakeRaw) scan(name string, buf []byte) int32 {
	f.calls["scan"]++
	switch name {
	case "spam":
		f.scanned = name
		return 300
	case "down":
		f.scanned = name
		return abi.ErrTemporary
	}
	return abi.ErrNotFound
}

func (f *fakeRaw) scanValue(key string, buf []byte) int32 {
	if f.scanned == "down" && key == abi.ScanKeyError {
		return f.put("scan_value", buf, `scanner "down" (rspamd): scanner unreachable: connection refused`)
	}
	v, ok := fakeScanValues[key]
	if f.scanned != "spam" || !ok {
		return abi.ErrNotFound
	}
	return f.put("scan_value", buf, v)
}

func TestGuestScan(t *testing.T) {
	f := &fakeRaw{calls: map[string]int{}}
	g := newGuestHost(f)
	r, err := g.Scan("spam")
	if err != nil {
		t.Fatal(err)
	}
	want := &ScanResult{Engine: "rspamd", Action: "rewrite subject", Score: 7.25, RequiredScore: 15, Spam: true,
		Subject:       "*** SPAM *** hi",
		Symbols:       []ScanSymbol{{"BAYES_SPAM", 5}, {"R_SPF_FAIL", 2.25}},
		AddHeaders:    []ScanHeader{{Name: "X-Foo", Value: "bar", Order: 1}},
		RemoveHeaders: []ScanHeader{{Name: "X-Spam"}}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Scan = %+v\nwant %+v", r, want)
	}
	if v, ok := g.ScanValue("symbols.1.name"); !ok || v != "R_SPF_FAIL" {
		t.Errorf("ScanValue = %q, %v", v, ok)
	}
	_, err = g.Scan("down")
	var se *ScanError
	if !errors.As(err, &se) || !errors.Is(err, ErrTemporary) || se.Reason == "" {
		t.Errorf("Scan of a scanner that is down: %v; want a ScanError with its reason", err)
	}
	if _, err := g.Scan("early"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Scan outside data: %v; want ErrNotFound", err)
	}
}
