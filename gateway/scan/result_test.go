package scan

import (
	"encoding/json"
	"strings"
	"testing"
)

const rspamdSample = `{
 "is_skipped": false, "score": 16.5, "required_score": 15.0, "action": "reject",
 "thresholds": {"reject": 15.0, "add header": 6.0},
 "symbols": {
  "GTUBE": {"name": "GTUBE", "score": 0, "metric_score": 0, "description": "Gtube pattern"},
  "R_SUSPICIOUS_URL": {"name": "R_SUSPICIOUS_URL", "score": 5.5, "options": ["a.example", "b.example"]},
  "MIME.TRACE": {"name": "MIME.TRACE", "score": 0, "options": ["0:+"]}
 },
 "messages": {"smtp_message": "Gtube pattern", "other": "x"},
 "subject": "[SPAM] hello",
 "milter": {
  "add_headers": {
   "X-Spamd-Bar": {"value": "+++++", "order": 0},
   "X-Spam-Level": "*****",
   "X-Two": [{"value": "a", "order": 1}, "b"]
  },
  "remove_headers": {"X-Spam": 1, "X-Spamd-Bar": 0}
 },
 "message-id": "x@example.org", "time_real": 0.1
}`

func TestParseRspamd(t *testing.T) {
	r, err := parseRspamd([]byte(rspamdSample))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	want := `{"engine":"rspamd","action":"reject","score":16.5,"required_score":15,"spam":true,` +
		`"symbols":[{"name":"GTUBE","score":0,"description":"Gtube pattern"},{"name":"MIME.TRACE","score":0,"options":["0:+"]},` +
		`{"name":"R_SUSPICIOUS_URL","score":5.5,"options":["a.example","b.example"]}],` +
		`"message":"Gtube pattern","subject":"[SPAM] hello",` +
		`"add_headers":[{"name":"X-Spam-Level","value":"*****","order":0},{"name":"X-Spamd-Bar","value":"+++++","order":0},` +
		`{"name":"X-Two","value":"a","order":1},{"name":"X-Two","value":"b","order":0}],` +
		`"remove_headers":[{"name":"X-Spam","index":1},{"name":"X-Spamd-Bar","index":0}],"infected":false}`
	if string(b) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", b, want)
	}
	for path, want := range map[string]string{
		"engine": "rspamd", "action": "reject", "score": "16.5", "required_score": "15", "spam": "true",
		"message": "Gtube pattern", "subject": "[SPAM] hello", "infected": "false", "virus": "", "skipped": "",
		"symbols.count": "3", "symbols.0.name": "GTUBE", "symbols.0.description": "Gtube pattern",
		"symbols.2.score": "5.5", "symbols.2.options": "a.example\nb.example",
		"symbols.R_SUSPICIOUS_URL.score": "5.5", "symbols.MIME.TRACE.options": "0:+",
		"add_headers.count": "4", "add_headers.2.name": "X-Two", "add_headers.2.value": "a", "add_headers.2.order": "1",
		"remove_headers.count": "2", "remove_headers.0.name": "X-Spam", "remove_headers.0.index": "1",
	} {
		if got, ok := r.Value(path); !ok || got != want {
			t.Errorf("Value(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
	for _, path := range []string{"", "nope", "score.x", "symbols", "symbols.3.name", "symbols.01.name", "symbols.-1.name",
		"symbols.0.nope", "symbols.NOPE.score", "add_headers.4.name", "add_headers.0", "remove_headers.x.name", "virus.x"} {
		if v, ok := r.Value(path); ok {
			t.Errorf("Value(%q) = %q, want not found", path, v)
		}
	}
}

func TestParseRspamdRefuses(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"score": 1}`, `{"action": "reject"}`, `{"action": "burn", "score": 1}`,
		`{"action": "reject", "score": "high"}`,
		`{"action": "reject", "score": 1, "symbols": {"A": {"options": "x"}}}`,
		`{"action": "reject", "score": 1, "messages": "x"}`,
		`{"action": "reject", "score": 1, "messages": {"smtp_message": 5}}`,
		`{"action": "reject", "score": 1, "milter": {"add_headers": {"X": 5}}}`,
		`{"action": "reject", "score": 1, "milter": {"add_headers": {"X": [5]}}}`,
		`{"action": "reject", "score": 1, "milter": {"remove_headers": {"X": -1}}}`,
		`{"action": "reject", "score": 1, "milter": {"remove_headers": {"X": 1.5}}}`,
	} {
		if r, err := parseRspamd([]byte(body)); err == nil {
			t.Errorf("%s: accepted as %+v", body, r)
		}
	}
}

func TestParseClamd(t *testing.T) {
	r, err := parseClamd([]byte("stream: Win.Test.EICAR_HDB-1 FOUND"))
	if err != nil || !r.Infected || r.Virus != "Win.Test.EICAR_HDB-1" {
		t.Fatalf("%+v %v", r, err)
	}
	if r, err = parseClamd([]byte("stream: OK")); err != nil || r.Infected {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err = parseClamd([]byte("INSTREAM size limit exceeded. ERROR")); err != errClamdTooLarge {
		t.Fatalf("size limit: %v", err)
	}
	b, _ := json.Marshal(r)
	if string(b) != `{"engine":"clamd","score":0,"required_score":0,"spam":false,"infected":false}` {
		t.Fatalf("JSON %s", b)
	}
}

func TestParseSpamdReport(t *testing.T) {
	reply := "SPAMD/1.1 0 EX_OK\r\nContent-length: 400\r\nSpam: True ; 1002.5 / 5.0\r\n\r\n" +
		"Spam detection software has identified this incoming email as possible spam.\n\n" +
		"Content analysis details:   (1002.5 points, 5.0 required)\n\n" +
		" pts rule name              description\n" +
		"---- ---------------------- --------------------------------------------------\n" +
		"1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email\n" +
		" 2.5 MISSING_HEADERS        Missing To: header and a rather long description\n" +
		"                            that wraps\n" +
		"-0.0 NO_RELAYS              Informational: message was not relayed via SMTP\n"
	reply = strings.Replace(reply, "400", "", 1)
	reply = strings.Replace(reply, "Content-length: \r\n", "", 1)
	r, err := parseSpamd([]byte(reply), SpamdReport)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Spam || r.Score != 1002.5 || r.RequiredScore != 5 || len(r.Symbols) != 3 ||
		r.Symbols[0].Name != "GTUBE" || r.Symbols[0].Score != 1000 || r.Symbols[0].Description != "BODY: Generic Test for Unsolicited Bulk Email" ||
		r.Symbols[1].Description != "Missing To: header and a rather long description that wraps" || r.Symbols[2].Score != 0 {
		t.Fatalf("%+v", r)
	}
	r, err = parseSpamd([]byte("SPAMD/1.1 0 EX_OK\r\nContent-length: 14\r\nSpam: False ; 1.2 / 5.0\r\n\r\nNO_RELAYS,X_Y\r\ntrailing"), SpamdSymbols)
	if err != nil || r.Spam || len(r.Symbols) != 2 || r.Symbols[1].Name != "X_Y" {
		t.Fatalf("%+v %v", r, err)
	}
}
