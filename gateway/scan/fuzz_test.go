package scan

import (
	"encoding/json"
	"testing"
)

// checkResult is what every parser promises of a Result it returns: it
// encodes, and Value answers for its members.
func checkResult(t *testing.T, r *Result) {
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"engine", "score", "symbols.count", "symbols.0.name", "add_headers.0.value", "remove_headers.0.index"} {
		r.Value(p)
	}
	if _, ok := r.Value("symbols.count"); !ok {
		t.Fatal("no symbols.count")
	}
}

func FuzzParseRspamd(f *testing.F) {
	f.Add([]byte(rspamdSample))
	f.Add([]byte(`{"action":"no action","score":-0.1,"required_score":15,"symbols":{}}`))
	f.Add([]byte(`{"action":"reject","score":1,"milter":{"add_headers":{"X":[{"value":"a","order":1e300}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRspamd(b)
		if err == nil {
			checkResult(t, r)
		}
	})
}

func FuzzParseClamd(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar-Signature FOUND", "INSTREAM size limit exceeded. ERROR", "x ERROR", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseClamd(b)
		if err == nil {
			checkResult(t, r)
			if r.Infected == (r.Virus == "") {
				t.Fatalf("infected %v with virus %q", r.Infected, r.Virus)
			}
		}
	})
}

func FuzzParseSpamd(f *testing.F) {
	f.Add([]byte("SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE"), true)
	f.Add([]byte("SPAMD/1.1 0 EX_OK\r\nSpam: True ; NaN / +Inf\r\n\r\n"), true)
	f.Add([]byte("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.1 / 5.0\r\n\r\n pts rule\n---- ----\n 0.1 X y\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, symbols bool) {
		cmd := SpamdReport
		if symbols {
			cmd = SpamdSymbols
		}
		r, err := parseSpamd(b, cmd)
		if err == nil {
			checkResult(t, r)
		}
	})
}
