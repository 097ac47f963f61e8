package sluice_test

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

type cfg struct {
	Name   string           `json:"name"`
	Items  []string         `json:"items"`
	Count  int64            `json:"count"`
	Limits map[string]limit `json:"limits"`
	Wait   sluice.Duration  `json:"wait"`
	Quoted int              `json:"quoted,string"`
}

type limit struct {
	Max uint8 `json:"max"`
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		json    string
		want    cfg
		wantErr string
	}{
		{json: `{}`},
		{json: `{"name":"x","items":["a","b"]}`, want: cfg{Name: "x", Items: []string{"a", "b"}}},
		{json: `{"nmae":"typo"}`, wantErr: `config.nmae: unknown key (known here: count, items, limits, name, quoted, wait)`},
		{json: `{"name":1}`, wantErr: "config.name: 1 is not a string"},
		{json: `{"count":2.5}`, wantErr: "config.count: 2.5 is not a whole number"},
		{json: `{"count":"3"}`, wantErr: `config.count: "3" is not a whole number`},
		{json: `{"count":1e20}`, wantErr: "config.count: 1e+20 is out of range (-9223372036854775808 to 9223372036854775807)"},
		{json: `{"items":"a"}`, wantErr: `config.items: "a" is not a list`},
		{json: `{"items":["a",true]}`, wantErr: "config.items[1]: true is not a string"},
		{json: `{"limits":{"x":{"max":-1}}}`, wantErr: "config.limits.x.max: -1 is out of range (0 to 255)"},
		{json: `{"limits":{"x":{"mx":1}}}`, wantErr: "config.limits.x.mx: unknown key (known here: max)"},
		{json: `{"wait":"soon"}`, wantErr: `config.wait: duration "soon": not a duration`},
		{json: `{"quoted":"12"}`, want: cfg{Quoted: 12}},
		{json: `{"quoted":"x"}`, wantErr: "config: "},
		{json: `{"limits":{"x":{"max":7}},"count":-4,"wait":"5m"}`,
			want: cfg{Count: -4, Limits: map[string]limit{"x": {Max: 7}}, Wait: sluice.Duration(5 * time.Minute)}},
		{json: `{} {}`, wantErr: "config: not valid JSON"},
		{json: ``, wantErr: "config: not valid JSON"},
	}
	for _, tt := range tests {
		s := sluicetest.New()
		s.SetConfig(tt.json)
		var got cfg
		var err error
		s.Run(sluicetest.PhaseConfigure, func(h sluice.Host) sluice.Verdict {
			err = sluice.DecodeConfig(h, &got)
			return sluice.VerdictContinue
		})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want %q", tt.json, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Name != tt.want.Name || !slices.Equal(got.Items, tt.want.Items) || got.Count != tt.want.Count ||
			got.Wait != tt.want.Wait || got.Quoted != tt.want.Quoted || fmt.Sprint(got.Limits) != fmt.Sprint(tt.want.Limits) {
			t.Errorf("%s: got %+v, %v", tt.json, got, err)
		}
	}
}

func TestVerdictHelpers(t *testing.T) {
	tests := []struct {
		name     string
		hook     func(h sluice.Host) sluice.Verdict
		verdict  sluice.Verdict
		reply    string
		wantErr  string
		wantLogs string
		// wantNoLogs: the helper writes no log line (the reason goes
		// into X-Sluice-Quarantine, as in every SDK).
		wantNoLogs bool
	}{
		{name: "reject", hook: func(h sluice.Host) sluice.Verdict { return sluice.Reject(h, 554, "5.7.0", "No thanks") },
			verdict: sluice.VerdictReject, reply: "554 5.7.0 No thanks"},
		{name: "reject default reply", hook: func(h sluice.Host) sluice.Verdict { return sluice.VerdictReject },
			verdict: sluice.VerdictReject, reply: "550 5.7.1 Rejected by policy"},
		{name: "tempfail", hook: func(h sluice.Host) sluice.Verdict { return sluice.Tempfail(h, 450, "", "Later") },
			verdict: sluice.VerdictTempfail, reply: "450 4.0.0 Later"},
		{name: "tempfail default reply", hook: func(h sluice.Host) sluice.Verdict { return sluice.VerdictTempfail },
			verdict: sluice.VerdictTempfail, reply: "451 4.7.1 Try again later"},
		{name: "refuse 4xx", hook: func(h sluice.Host) sluice.Verdict { return sluice.Refuse(h, 421, "4.7.0", "Busy") },
			verdict: sluice.VerdictTempfail, reply: "421 4.7.0 Busy"},
		{name: "refuse 5xx", hook: func(h sluice.Host) sluice.Verdict { return sluice.Refuse(h, 550, "5.1.1", "Unknown user") },
			verdict: sluice.VerdictReject, reply: "550 5.1.1 Unknown user"},
		{name: "reject with a 4xx code is a plugin error", hook: func(h sluice.Host) sluice.Verdict { return sluice.Reject(h, 451, "4.7.1", "x") },
			wantErr: "returned reject with a 451 reply; a reject needs a 5xx reply"},
		{name: "mismatched enhanced code traps", hook: func(h sluice.Host) sluice.Verdict { return sluice.Reject(h, 550, "4.7.1", "x") },
			wantErr: "with class 5"},
		{name: "quarantine passes its reason as the reply text", hook: func(h sluice.Host) sluice.Verdict { return sluice.Quarantine(h, "looks like spam") },
			verdict: sluice.VerdictQuarantine, reply: "550 5.7.1 looks like spam", wantNoLogs: true},
		{name: "invalid verdict", hook: func(h sluice.Host) sluice.Verdict { return 9 }, wantErr: "returned 9, which is not a verdict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sluicetest.New()
			s.SetEnvelope("a@example.org")
			r := s.Run(sluicetest.PhaseMail, tt.hook)
			if tt.wantErr != "" {
				if r.Err == nil || !strings.Contains(r.Err.Error(), tt.wantErr) {
					t.Fatalf("Err = %v, want %q", r.Err, tt.wantErr)
				}
				return
			}
			if r.Err != nil || r.Verdict != tt.verdict {
				t.Fatalf("got %v, %v; want %v", r.Verdict, r.Err, tt.verdict)
			}
			if tt.reply != "" && (r.Reply == nil || r.Reply.String() != tt.reply) {
				t.Fatalf("reply = %v, want %q", r.Reply, tt.reply)
			}
			if tt.wantNoLogs && len(s.Logs()) != 0 {
				t.Fatalf("logs = %+v, want none", s.Logs())
			}
			if tt.wantLogs != "" {
				logs := s.Logs()
				if len(logs) != 1 || logs[0].Text != tt.wantLogs || logs[0].Level != sluice.LevelWarn {
					t.Fatalf("logs = %+v", logs)
				}
			}
		})
	}
}

func TestBodyReaderAndHelpers(t *testing.T) {
	s := sluicetest.New()
	s.SetEnvelope("", "a@example.org", "b@example.org")
	body := strings.Repeat("line of text\r\n", 5000)
	if err := s.SetMessage([]byte("Subject: hi\r\nTo: a@example.org\r\n\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	r := s.Run(sluicetest.PhaseData, func(h sluice.Host) sluice.Verdict {
		br := bufio.NewReaderSize(sluice.Body(h), 4096)
		lines := 0
		for {
			_, err := br.ReadString('\n')
			if err == io.EOF {
				break
			}
			lines++
		}
		if lines != 5000 {
			t.Errorf("read %d lines, want 5000", lines)
		}
		if v, ok := sluice.Header(h, "subject"); !ok || v != "hi" {
			t.Errorf("Header(subject) = %q, %v", v, ok)
		}
		if got := sluice.Rcpts(h); !slices.Equal(got, []string{"a@example.org", "b@example.org"}) {
			t.Errorf("Rcpts = %q", got)
		}
		sluice.Infof(h, "%d lines", lines)
		return sluice.VerdictContinue
	})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if logs := s.Logs(); len(logs) != 1 || logs[0].Text != "5000 lines" || logs[0].Level != sluice.LevelInfo {
		t.Errorf("logs = %+v", logs)
	}
}

func TestLocalPart(t *testing.T) {
	for in, want := range map[string]string{
		"Bob@example.org": "Bob", `"a@b"@example.org`: `"a@b"`, "postmaster": "postmaster", "": "", "@example.org": "",
	} {
		if got := sluice.LocalPart(in); got != want {
			t.Errorf("LocalPart(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDomain(t *testing.T) {
	for in, want := range map[string]string{
		"a@Example.ORG": "example.org", "a@b@c.example.": "c.example", "postmaster": "", "": "",
	} {
		if got := sluice.Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
}
