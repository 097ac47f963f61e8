package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

const (
	id       = "mx.example.org"
	clientIP = "192.0.2.1"    // the default of sluicetest.New
	otherIP  = "198.51.100.7" // in no SPF record
)

// msg is a message from alice@example.org.
const msg = "From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: hello\r\n" +
	"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHi Bob.\r\n"

var dkimKey = func() crypto.Signer {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

// dkimRecord is the key record of k (RFC 8463 §4).
func dkimRecord(k crypto.Signer) string {
	return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
}

// signed returns raw signed by d=example.org s=s1 with go-msgauth.
func signed(t *testing.T, raw string) string {
	t.Helper()
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(raw), &dkim.SignOptions{
		Domain: "example.org", Selector: "s1", Signer: dkimKey,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// env is one session's DNS and envelope.
type env struct {
	ip, helo, from string
	dns            map[string]string // TXT name -> record
	msg            string
}

func (e env) session(t *testing.T) *sluicetest.Session {
	t.Helper()
	s := sluicetest.New()
	if e.ip != "" {
		s.SetInfo(sluice.InfoClientIP, e.ip)
	}
	helo := e.helo
	if helo == "" {
		helo = "mail.example.org"
	}
	s.SetInfo(sluice.InfoHelo, helo)
	for name, rec := range e.dns {
		s.SetDNS("TXT", name, rec)
	}
	s.SetEnvelope(e.from, "bob@example.com")
	m := e.msg
	if m == "" {
		m = msg
	}
	if err := s.SetMessage([]byte(m)); err != nil {
		t.Fatal(err)
	}
	return s
}

// run configures the plugin with cfg and runs it on the session.
func run(t *testing.T, s *sluicetest.Session, cfg string) {
	t.Helper()
	p := &authResults{}
	if err := s.Configure(p, cfg); err != nil {
		t.Fatal(err)
	}
	r := s.Data(p)
	if r.Err != nil || r.Verdict != sluice.VerdictContinue {
		t.Fatalf("Data = %v, %v", r.Verdict, r.Err)
	}
}

const (
	spfPass = "v=spf1 ip4:192.0.2.0/24 -all"
	dmarcP  = "v=DMARC1; p=reject"
)

func TestResults(t *testing.T) {
	tests := []struct {
		name   string
		env    env
		tags   map[string]string
		fields []string // substrings of our field, unfolded
	}{
		{
			name: "spf pass, dmarc pass through spf alignment",
			env:  env{from: "alice@example.org", dns: map[string]string{"example.org": spfPass, "_dmarc.example.org": dmarcP}},
			tags: map[string]string{tagSPF: "pass", tagDKIM: "none", tagDKIMDomains: "", tagDMARC: "pass",
				tagPolicy: "reject", tagPct: "100", tagDomain: "example.org"},
			fields: []string{"dkim=none;", "spf=pass (matched ip) smtp.mailfrom=alice@example.org;", "dmarc=pass header.from=example.org"},
		},
		{
			name: "spf fail, dmarc fail with p=reject",
			env: env{ip: otherIP, from: "alice@example.org",
				dns: map[string]string{"example.org": spfPass, "_dmarc.example.org": dmarcP}},
			tags:   map[string]string{tagSPF: "fail", tagDKIM: "none", tagDMARC: "fail", tagPolicy: "reject", tagPct: "100"},
			fields: []string{"spf=fail", "smtp.mailfrom=alice@example.org", "dmarc=fail", "header.from=example.org"},
		},
		{
			name: "spf softfail, dmarc quarantine with pct",
			env: env{ip: otherIP, from: "alice@example.org",
				dns: map[string]string{"example.org": "v=spf1 ip4:192.0.2.0/24 ~all", "_dmarc.example.org": "v=DMARC1; p=quarantine; pct=30"}},
			tags:   map[string]string{tagSPF: "softfail", tagDMARC: "fail", tagPolicy: "quarantine", tagPct: "30"},
			fields: []string{"spf=softfail"},
		},
		{
			name:   "spf none, no dmarc record",
			env:    env{from: "alice@example.org"},
			tags:   map[string]string{tagSPF: "none", tagDKIM: "none", tagDMARC: "none", tagPolicy: "", tagPct: "0", tagDomain: "example.org"},
			fields: []string{"spf=none (no DNS record found) smtp.mailfrom=alice@example.org;", "dmarc=none (no DMARC record) header.from=example.org"},
		},
		{
			name: "dkim pass aligns though spf fails",
			env: env{ip: otherIP, from: "bounce@lists.example.net", msg: "SIGN",
				dns: map[string]string{"lists.example.net": "v=spf1 -all", "_dmarc.example.org": dmarcP,
					"s1._domainkey.example.org": dkimRecord(dkimKey)}},
			tags: map[string]string{tagSPF: "fail", tagDKIM: "pass", tagDKIMDomains: "example.org", tagDMARC: "pass",
				tagPolicy: "reject"},
			fields: []string{"dkim=pass header.d=example.org header.s=s1 header.b=", "spf=fail", "smtp.mailfrom=bounce@lists.example.net", "dmarc=pass"},
		},
		{
			name: "dkim fail after a change",
			env: env{from: "alice@example.org", msg: "TAMPER",
				dns: map[string]string{"example.org": spfPass, "s1._domainkey.example.org": dkimRecord(dkimKey)}},
			tags:   map[string]string{tagDKIM: "fail", tagDKIMDomains: "", tagSPF: "pass"},
			fields: []string{"dkim=fail", "header.d=example.org"},
		},
		{
			name: "null sender: spf of the helo name",
			env: env{from: "", helo: "mail.example.org",
				dns: map[string]string{"mail.example.org": spfPass}},
			tags:   map[string]string{tagSPF: "pass"},
			fields: []string{"spf=pass (matched ip) smtp.helo=mail.example.org;"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.env
			switch e.msg {
			case "SIGN":
				e.msg = signed(t, msg)
			case "TAMPER":
				e.msg = signed(t, msg) + "P.S. added later\r\n"
			}
			s := e.session(t)
			run(t, s, `{"authserv_id": "`+id+`"}`)
			tags := s.Tags()
			for k, want := range tt.tags {
				if got, ok := tags[k]; !ok || got != want {
					t.Errorf("tag %s = %q (%v), want %q", k, got, ok, want)
				}
			}
			ar := s.HeaderValues(fieldName)
			if len(ar) != 1 {
				t.Fatalf("%s fields: %q", fieldName, ar)
			}
			if !strings.HasPrefix(string(s.Message()), fieldName+": "+id+";\r\n\t") {
				t.Errorf("field not at the top:\n%s", s.Message())
			}
			flat := unfold(ar[0])
			for _, want := range tt.fields {
				if !strings.Contains(flat, want) {
					t.Errorf("field lacks %q:\n%s", want, ar[0])
				}
			}
			checkLines(t, fieldName+": "+ar[0])
		})
	}
}

// unfold undoes the folding and turns each CRLF TAB into one space.
func unfold(v string) string { return strings.ReplaceAll(v, "\r\n\t", " ") }

// checkLines fails when a line of the rendered field exceeds the 78 bytes
// of RFC 5322 §2.1.1.
func checkLines(t *testing.T, field string) {
	t.Helper()
	for _, l := range strings.Split(field, "\r\n") {
		if len(l) > 78 {
			t.Errorf("line of %d bytes: %q", len(l), l)
		}
	}
}

// forged holds the Authentication-Results fields of the removal tests.
const forged = "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=evil@example.org\r\n" +
	"Authentication-Results: other.example; spf=pass smtp.mailfrom=a@example.org\r\n" +
	"ARC-Authentication-Results: i=1; mx.example.org; dmarc=pass\r\n" +
	"authentication-results: (forged)\r\n  MX.Example.ORG. ; dkim=pass\r\n" +
	"Authentication-Results: \"mx.example.org\"; none\r\n" +
	"Authentication-Results: mx.example.org.evil; none\r\n" +
	"Authentication-Results: mx.example.org;dmarc=pass\r\n"

func TestRemoval(t *testing.T) {
	tests := []struct {
		name, cfg string
		keep      []string // incoming Authentication-Results values kept, in order
		ours      int      // fields of ours added
	}{
		{name: "ours removed, foreign kept", cfg: `{"authserv_id": "mx.example.org"}`,
			keep: []string{"other.example; spf=pass smtp.mailfrom=a@example.org", "mx.example.org.evil; none"}, ours: 1},
		{name: "remove_foreign", cfg: `{"authserv_id": "mx.example.org", "remove_foreign": true}`, ours: 1},
		{name: "header false still removes", cfg: `{"authserv_id": "MX.example.org", "header": false}`,
			keep: []string{"other.example; spf=pass smtp.mailfrom=a@example.org", "mx.example.org.evil; none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{from: "alice@example.org", dns: map[string]string{"example.org": spfPass}, msg: forged + msg}
			s := e.session(t)
			run(t, s, tt.cfg)
			var ours, kept []string
			for _, v := range s.HeaderValues(fieldName) {
				if strings.HasPrefix(v, id+";\r\n\t") || strings.HasPrefix(v, "MX.example.org;\r\n\t") {
					ours = append(ours, v)
				} else {
					kept = append(kept, v)
				}
			}
			if len(ours) != tt.ours {
				t.Errorf("%d fields of ours: %q", len(ours), ours)
			}
			if strings.Join(kept, "|") != strings.Join(tt.keep, "|") {
				t.Errorf("kept %q\nwant %q", kept, tt.keep)
			}
			if arc := s.HeaderValues("ARC-Authentication-Results"); len(arc) != 1 {
				t.Errorf("ARC-Authentication-Results: %q", arc)
			}
			if tags := s.Tags(); tags[tagSPF] != "pass" {
				t.Errorf("tags: %v", tags)
			}
			logs := s.Logs()
			if len(logs) == 0 || logs[0].Level != sluice.LevelInfo || !strings.Contains(logs[0].Text, "removed 4") {
				t.Errorf("logs: %+v", logs)
			}
		})
	}
}

func TestAuthservID(t *testing.T) {
	tests := map[string]string{
		"mx.example.org; spf=pass":              "mx.example.org",
		"mx.example.org 1; spf=pass":            "mx.example.org",
		"mx.example.org;":                       "mx.example.org",
		" (a (nested) comment)\r\n\tmx.x; none": "mx.x",
		`"quoted \" id"; none`:                  `quoted " id`,
		"(unterminated":                         "",
		"":                                      "",
		"id(comment); none":                     "id",
	}
	for in, want := range tests {
		if got := authservID(in); got != want {
			t.Errorf("authservID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfigure(t *testing.T) {
	for _, cfg := range []string{
		`{"authserv_id": "mx.example.org"}`,
		`{"authserv_id": "mx", "remove_foreign": true, "header": false}`,
		`{"authserv_id": "MX.Example.Org."}`,
	} {
		if err := sluicetest.New().Configure(&authResults{}, cfg); err != nil {
			t.Errorf("Configure(%s): %v", cfg, err)
		}
	}
	for cfg, want := range map[string]string{
		`{}`:                                         "required",
		`{"authserv_id": ""}`:                        "required",
		`{"authserv_id": "mx example"}`:              "0x20",
		`{"authserv_id": "mx;example"}`:              "0x3b",
		`{"authserv_id": "-mx.example"}`:             "hyphen",
		`{"authserv_id": "mx..example"}`:             "labels",
		`{"authserv_id": "mx.example", "extra": 1}`:  "unknown key",
		`{"authserv_id": "mx.example", "header": 1}`: "config.header: 1 is not true or false",
	} {
		err := sluicetest.New().Configure(&authResults{}, cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Configure(%s) = %v, want an error with %q", cfg, err, want)
		}
	}
}
