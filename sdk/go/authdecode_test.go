package sluice

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecodeAuthResult checks decodeAuthResult against encoding/json on
// what the host writes: json.Marshal of a result (gateway/wasmhost
// host_auth.go), whose strings come from messages and DNS and so may hold
// anything.
func FuzzDecodeAuthResult(f *testing.F) {
	f.Add("pass", "example.org", "matched ip4:192.0.2.0/24", "s1", 100, true, 2, "dkim=pass;\r\n\tspf=pass")
	f.Add("", "", "", "", 0, false, 0, "")
	f.Add("fail", "ex\"am\\ple", "<&> \x00\x1f\x7f é \U0001F600 \u2028", "\xff\xfe", -1, false, 1, "a\tb")
	f.Add("none", "\xed\xa0\x80", "\\u0041", "/", 1<<40, true, 5, strings.Repeat("x", 3000))
	f.Fuzz(func(t *testing.T, result, domain, reason, selector string, pct int, aligned bool, sigs int, resinfo string) {
		in := AuthResult{ResInfo: resinfo}
		if result != "" {
			in.SPF = &SPFResult{Result: result, Identity: "mailfrom", Domain: domain, Sender: "a@" + domain, Reason: reason}
			in.DMARC = &DMARCResult{Result: result, FromDomain: domain, PolicyDomain: selector, Policy: reason,
				Percent: pct, SPFAligned: aligned, DKIMAligned: !aligned, Reason: reason}
		}
		for i := range sigs % 6 {
			in.DKIM = append(in.DKIM, DKIMResult{Result: result, Domain: domain, Selector: selector,
				Identifier: "@" + domain, Algorithm: "ed25519-sha256", Signature: reason[:min(i, len(reason))], Reason: reason})
		}
		text, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var want AuthResult
		if err := json.Unmarshal(text, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := decodeAuthResult(string(text))
		if !ok || !reflect.DeepEqual(*got, want) {
			t.Errorf("decodeAuthResult(%s)\n= %+v, %v\nwant %+v", text, got, ok, want)
		}
	})
}

// TestDecodeAuthResultSyntax: what encoding/json reads the same way, and
// text that is not an auth_check result, which the caller then reads with
// auth_value.
func TestDecodeAuthResultSyntax(t *testing.T) {
	for _, s := range []string{
		` { "spf" : { "result" : "pass" , "x" : [ ] } , "dkim" : [ ] , "dmarc" : null , "resinfo" : "\u00e9\ud83d\ude00\ud800x\/" } `,
		`{"dmarc":{"pct":null,"spf_aligned":null,"result":null},"spf":null,"dkim":null,"n":-1.5e-3,"o":{},"t":true,"f":false}`,
		`{}`,
	} {
		var want AuthResult
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := decodeAuthResult(s); !ok || !reflect.DeepEqual(*got, want) {
			t.Errorf("decodeAuthResult(%s) = %+v, %v; want %+v", s, got, ok, want)
		}
	}
	for _, s := range []string{
		``, `null`, `[]`, `{`, `{"spf"}`, `{"spf":{"result":1}}`, `{"dmarc":{"pct":"100"}}`, `{"dmarc":{"pct":1.5}}`,
		`{"dmarc":{"spf_aligned":"true"}}`, `{"dkim":{}}`, `{"resinfo":"a\x"}`, `{"resinfo":"\u12"}`, `{"resinfo":"abc`,
		`{"resinfo":"a\`, `{"a":1,}`, `{"a":1 "b":2}`, `{} {}`, `{"a":tru}`, `{"a":-}`, `{null:1}`, `{"dkim":[{},]}`,
	} {
		if r, ok := decodeAuthResult(s); ok {
			t.Errorf("decodeAuthResult(%q) = %+v, true; want false", s, r)
		}
	}
}
