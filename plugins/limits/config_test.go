package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &limiter{} }, []sluicetest.ConfigCase{
		{Name: "full", JSON: policy},
		{Name: "empty", JSON: `{}`},
		{Name: "nulls inherit", JSON: `{"default": {"max_size": null, "max_rcpts": null}}`},
		{Name: "codes", JSON: `{"default": {"max_rcpts": 100}, "code_size": 452, "enhanced_size": "4.3.1", "code_rcpts": 550, "enhanced_rcpts": "5.5.3"}`},
		{Name: "4xx size code, default enhanced", JSON: `{"code_size": 452}`},
		{Name: "typo", JSON: `{"defaults": {}}`, WantErr: `config.defaults: unknown key`},
		{Name: "typo in level", JSON: `{"default": {"max_recipients": 5}}`, WantErr: `config.default.max_recipients: unknown key`},
		{Name: "bad size unit", JSON: `{"default": {"max_size": "10MB"}}`, WantErr: "KiB, MiB or GiB"},
		{Name: "fractional size", JSON: `{"default": {"max_size": 10.5}}`, WantErr: "whole number"},
		{Name: "zero size", JSON: `{"default": {"max_size": 0}}`, WantErr: "max_size must be at least 1"},
		{Name: "negative size", JSON: `{"senders": {"a@example.org": {"max_size": -1}}}`, WantErr: `senders: "a@example.org": max_size`},
		{Name: "zero rcpts", JSON: `{"domains": {"example.org": {"max_rcpts": 0}}}`, WantErr: `domains: "example.org": max_rcpts must be at least 1`},
		{Name: "fractional rcpts", JSON: `{"default": {"max_rcpts": 1.5}}`, WantErr: "config.default.max_rcpts: 1.5 is not a whole number"},
		{Name: "rcpts as string", JSON: `{"default": {"max_rcpts": "100"}}`, WantErr: "config.default.max_rcpts: \"100\" is not a whole number"},
		{Name: "sender not an address", JSON: `{"senders": {"example.org": {}}}`, WantErr: "not an address"},
		{Name: "sender with space", JSON: `{"senders": {"a b@example.org": {}}}`, WantErr: "not an address"},
		{Name: "sender bad domain", JSON: `{"senders": {"a@exa_mple.org": {}}}`, WantErr: "0x5f"},
		{Name: "domain with @", JSON: `{"domains": {"@example.org": {}}}`, WantErr: "without '@'"},
		{Name: "empty domain", JSON: `{"domains": {"": {}}}`, WantErr: "1 to 253"},
		{Name: "domain trailing dot", JSON: `{"domains": {"example.org.": {}}}`, WantErr: "empty label"},
		{Name: "sender case duplicate", JSON: `{"senders": {"A@example.org": {}, "a@EXAMPLE.org": {}}}`, WantErr: "given twice"},
		{Name: "domain case duplicate", JSON: `{"domains": {"Example.org": {}, "example.ORG": {}}}`, WantErr: "given twice"},
		{Name: "code 250", JSON: `{"code_size": 250}`, WantErr: "code_size 250 is not a 4xx or 5xx"},
		{Name: "code 600", JSON: `{"code_rcpts": 600}`, WantErr: "code_rcpts 600 is not a 4xx or 5xx"},
		{Name: "size class mismatch", JSON: `{"code_size": 552, "enhanced_size": "4.3.4"}`, WantErr: "does not match"},
		{Name: "rcpts class mismatch", JSON: `{"enhanced_rcpts": "5.5.3"}`, WantErr: "does not match"},
		{Name: "rcpts class mismatch after code change", JSON: `{"code_rcpts": 550, "enhanced_rcpts": "4.5.3"}`, WantErr: "does not match"},
		{Name: "bad enhanced", JSON: `{"enhanced_size": "5.3"}`, WantErr: "class.subject.detail"},
		{Name: "bad enhanced digits", JSON: `{"enhanced_size": "5.3.x"}`, WantErr: "class.subject.detail"},
		{Name: "long enhanced", JSON: `{"enhanced_size": "5.3.1234"}`, WantErr: "class.subject.detail"},
		{Name: "code as string", JSON: `{"code_size": "552"}`, WantErr: "config.code_size: \"552\" is not a whole number"},
	})
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
