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
		{"headers only", `{"headers": false}`, ""},
		{"utf-8 address", `{"senders": {"jörg@exämple.org": "j@example.org"}}`, ""},
		{"atext local part", `{"senders": {"a+b.c!#$%&'*/=?^_{|}~-x@example.org": "x@example.org"}}`, ""},
		{"typo", `{"sender": {}}`, `config.sender: unknown key`},
		{"wrong type", `{"senders": ["a@b"]}`, "is not"},
		{"headers as string", `{"headers": "yes"}`, "is not"},
		{"address to domain", `{"senders": {"a@example.org": "@example.net"}}`, "must map to an address"},
		{"domain to address", `{"recipients": {"@example.org": "a@example.net"}}`, "must map to a domain"},
		{"no at", `{"senders": {"example.org": "@example.net"}}`, "not an address"},
		{"empty key", `{"senders": {"": "a@example.net"}}`, "not an address"},
		{"empty value", `{"senders": {"a@example.org": ""}}`, "not an address"},
		{"empty local part", `{"senders": {"a@example.org": "@"}}`, "must map to an address"},
		{"bare @", `{"senders": {"@": "@example.org"}}`, "empty domain"},
		{"empty target domain", `{"senders": {"@example.org": "@"}}`, "empty domain"},
		{"quoted local part", `{"senders": {"\"a.b\"@example.org": "a@example.org"}}`, "quoted local parts"},
		{"space in value", `{"senders": {"a@example.org": "a b@example.org"}}`, "0x20"},
		{"angle brackets", `{"recipients": {"<a@example.org>": "b@example.org"}}`, "0x3c"},
		{"dot at start", `{"senders": {".a@example.org": "b@example.org"}}`, "dot-atom"},
		{"double dot", `{"senders": {"a..b@example.org": "b@example.org"}}`, "dot-atom"},
		{"domain literal", `{"senders": {"a@[192.0.2.1]": "b@example.org"}}`, "0x5b"},
		{"trailing dot", `{"senders": {"@example.org.": "@example.net"}}`, "empty label"},
		{"label hyphen", `{"recipients": {"@-example.org": "@example.net"}}`, "'-'"},
		{"long label", `{"recipients": {"@` + strings.Repeat("a", 64) + `.org": "@example.net"}}`, "63"},
		{"long address", `{"recipients": {"` + strings.Repeat("a", 250) + `@b.org": "a@example.net"}}`, "254"},
		{"CRLF in value", `{"senders": {"a@example.org": "b@example.org\r\nBcc: x@y"}}`, "0x0d"},
		{"case duplicate", `{"senders": {"A@example.org": "b@example.org", "a@EXAMPLE.org": "c@example.org"}}`, "given twice"},
		{"domain case duplicate", `{"recipients": {"@Example.org": "@a.example", "@example.ORG": "@b.example"}}`, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sluicetest.New().Configure(&rewriter{}, tt.json)
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

func TestEmptyConfigWarns(t *testing.T) {
	s := sluicetest.New()
	if err := s.Configure(&rewriter{}, `{"headers": true}`); err != nil {
		t.Fatal(err)
	}
	if logs := s.Logs(); len(logs) != 1 || logs[0].Level != sluice.LevelWarn {
		t.Fatalf("logs = %+v", logs)
	}
}
