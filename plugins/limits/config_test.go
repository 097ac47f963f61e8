package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func TestConfigure(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{"full", policy, ""},
		{"empty", `{}`, ""},
		{"nulls inherit", `{"default": {"max_size": null, "max_rcpts": null}}`, ""},
		{"codes", `{"default": {"max_rcpts": 100}, "code_size": 452, "enhanced_size": "4.3.1", "code_rcpts": 550, "enhanced_rcpts": "5.5.3"}`, ""},
		{"4xx size code, default enhanced", `{"code_size": 452}`, ""},
		{"typo", `{"defaults": {}}`, `config.defaults: unknown key`},
		{"typo in level", `{"default": {"max_recipients": 5}}`, `config.default.max_recipients: unknown key`},
		{"bad size unit", `{"default": {"max_size": "10MB"}}`, "KiB, MiB or GiB"},
		{"fractional size", `{"default": {"max_size": 10.5}}`, "whole number"},
		{"zero size", `{"default": {"max_size": 0}}`, "max_size must be at least 1"},
		{"negative size", `{"senders": {"a@example.org": {"max_size": -1}}}`, `senders: "a@example.org": max_size`},
		{"zero rcpts", `{"domains": {"example.org": {"max_rcpts": 0}}}`, `domains: "example.org": max_rcpts must be at least 1`},
		{"fractional rcpts", `{"default": {"max_rcpts": 1.5}}`, "config.default.max_rcpts: 1.5 is not a whole number"},
		{"rcpts as string", `{"default": {"max_rcpts": "100"}}`, "config.default.max_rcpts: \"100\" is not a whole number"},
		{"sender not an address", `{"senders": {"example.org": {}}}`, "not an address"},
		{"sender with space", `{"senders": {"a b@example.org": {}}}`, "not an address"},
		{"sender bad domain", `{"senders": {"a@exa_mple.org": {}}}`, "0x5f"},
		{"domain with @", `{"domains": {"@example.org": {}}}`, "without '@'"},
		{"empty domain", `{"domains": {"": {}}}`, "1 to 253"},
		{"domain trailing dot", `{"domains": {"example.org.": {}}}`, "empty label"},
		{"sender case duplicate", `{"senders": {"A@example.org": {}, "a@EXAMPLE.org": {}}}`, "given twice"},
		{"domain case duplicate", `{"domains": {"Example.org": {}, "example.ORG": {}}}`, "given twice"},
		{"code 250", `{"code_size": 250}`, "code_size 250 is not a 4xx or 5xx"},
		{"code 600", `{"code_rcpts": 600}`, "code_rcpts 600 is not a 4xx or 5xx"},
		{"size class mismatch", `{"code_size": 552, "enhanced_size": "4.3.4"}`, "does not match"},
		{"rcpts class mismatch", `{"enhanced_rcpts": "5.5.3"}`, "does not match"},
		{"rcpts class mismatch after code change", `{"code_rcpts": 550, "enhanced_rcpts": "4.5.3"}`, "does not match"},
		{"bad enhanced", `{"enhanced_size": "5.3"}`, "class.subject.detail"},
		{"bad enhanced digits", `{"enhanced_size": "5.3.x"}`, "class.subject.detail"},
		{"long enhanced", `{"enhanced_size": "5.3.1234"}`, "class.subject.detail"},
		{"code as string", `{"code_size": "552"}`, "config.code_size: \"552\" is not a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sluicetest.New().Configure(&limiter{}, tt.json)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Configure error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigureWarnings(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{}`, "no limits"},
		{`{"default": {"max_rcpts": 50}}`, "4.5.3.1.8"},
	}
	for _, tt := range tests {
		s := sluicetest.New()
		if err := s.Configure(&limiter{}, tt.json); err != nil {
			t.Fatal(err)
		}
		if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn || !strings.Contains(logs[0].Text, tt.want) {
			t.Errorf("%s: logs = %+v", tt.json, logs)
		}
	}
}

// TestLimitFor checks precedence and inheritance: exact sender, then
// domain, then default, field by field.
func TestLimitFor(t *testing.T) {
	p := &limiter{}
	if err := sluicetest.New().Configure(p, `{
		"default": {"max_size": "10MiB", "max_rcpts": 100},
		"senders": {
			"Bulk@Example.org": {"max_size": "50MiB", "max_rcpts": 1000},
			"small@example.org": {"max_size": 1000},
			"other@example.net": {"max_rcpts": 7}
		},
		"domains": {"EXAMPLE.org": {"max_rcpts": 500}, "big.example": {"max_size": "1GiB"}}
	}`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sender string
		want   limit
		level  string
	}{
		{"bulk@example.org", limit{50 << 20, 1000}, "sender"},
		{"BULK@EXAMPLE.ORG", limit{50 << 20, 1000}, "sender"},
		{"small@example.org", limit{1000, 500}, "sender"}, // max_rcpts from the domain
		{"other@example.net", limit{10 << 20, 7}, "sender"},
		{"anyone@example.org", limit{10 << 20, 500}, "domain example.org"},
		{"anyone@Example.ORG.", limit{10 << 20, 500}, "domain example.org"},
		{"x@big.example", limit{1 << 30, 100}, "domain big.example"},
		{"x@sub.example.org", limit{10 << 20, 100}, "default"},
		{"x@example.com", limit{10 << 20, 100}, "default"},
		{"", limit{10 << 20, 100}, "default"},
		{"postmaster", limit{10 << 20, 100}, "default"},
	}
	for _, tt := range tests {
		got, lvl := p.limitFor(tt.sender)
		if got != tt.want || lvl != tt.level {
			t.Errorf("limitFor(%q) = %+v %q, want %+v %q", tt.sender, got, lvl, tt.want, tt.level)
		}
	}
}
