package main

import (
	"strings"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
	"github.com/sluice-mail/sluice/sdk/go/sluicetest"
)

func TestConfigure(t *testing.T) {
	sluicetest.ConfigCases(t, func() any { return &rewriter{} }, []sluicetest.ConfigCase{
		{Name: "full", JSON: policy},
		{Name: "empty", JSON: `{}`},
		{Name: "headers only", JSON: `{"headers": false}`},
		{Name: "utf-8 address", JSON: `{"senders": {"jörg@exämple.org": "j@example.org"}}`},
		{Name: "atext local part", JSON: `{"senders": {"a+b.c!#$%&'*/=?^_{|}~-x@example.org": "x@example.org"}}`},
		{Name: "typo", JSON: `{"sender": {}}`, WantErr: `config.sender: unknown key`},
		{Name: "wrong type", JSON: `{"senders": ["a@b"]}`, WantErr: "is not"},
		{Name: "headers as string", JSON: `{"headers": "yes"}`, WantErr: "is not"},
		{Name: "address to domain", JSON: `{"senders": {"a@example.org": "@example.net"}}`, WantErr: "must map to an address"},
		{Name: "domain to address", JSON: `{"recipients": {"@example.org": "a@example.net"}}`, WantErr: "must map to a domain"},
		{Name: "no at", JSON: `{"senders": {"example.org": "@example.net"}}`, WantErr: "not an address"},
		{Name: "empty key", JSON: `{"senders": {"": "a@example.net"}}`, WantErr: "not an address"},
		{Name: "empty value", JSON: `{"senders": {"a@example.org": ""}}`, WantErr: "not an address"},
		{Name: "empty local part", JSON: `{"senders": {"a@example.org": "@"}}`, WantErr: "must map to an address"},
		{Name: "bare @", JSON: `{"senders": {"@": "@example.org"}}`, WantErr: "empty domain"},
		{Name: "empty target domain", JSON: `{"senders": {"@example.org": "@"}}`, WantErr: "empty domain"},
		{Name: "quoted local part", JSON: `{"senders": {"\"a.b\"@example.org": "a@example.org"}}`, WantErr: "quoted local parts"},
		{Name: "space in value", JSON: `{"senders": {"a@example.org": "a b@example.org"}}`, WantErr: "0x20"},
		{Name: "angle brackets", JSON: `{"recipients": {"<a@example.org>": "b@example.org"}}`, WantErr: "0x3c"},
		{Name: "dot at start", JSON: `{"senders": {".a@example.org": "b@example.org"}}`, WantErr: "dot-atom"},
		{Name: "double dot", JSON: `{"senders": {"a..b@example.org": "b@example.org"}}`, WantErr: "dot-atom"},
		{Name: "domain literal", JSON: `{"senders": {"a@[192.0.2.1]": "b@example.org"}}`, WantErr: "0x5b"},
		{Name: "trailing dot", JSON: `{"senders": {"@example.org.": "@example.net"}}`, WantErr: "empty label"},
		{Name: "label hyphen", JSON: `{"recipients": {"@-example.org": "@example.net"}}`, WantErr: "'-'"},
		{Name: "long label", JSON: `{"recipients": {"@` + strings.Repeat("a", 64) + `.org": "@example.net"}}`, WantErr: "63"},
		{Name: "long address", JSON: `{"recipients": {"` + strings.Repeat("a", 250) + `@b.org": "a@example.net"}}`, WantErr: "254"},
		{Name: "CRLF in value", JSON: `{"senders": {"a@example.org": "b@example.org\r\nBcc: x@y"}}`, WantErr: "0x0d"},
		{Name: "case duplicate", JSON: `{"senders": {"A@example.org": "b@example.org", "a@EXAMPLE.org": "c@example.org"}}`, WantErr: "given twice"},
		{Name: "domain case duplicate", JSON: `{"recipients": {"@Example.org": "@a.example", "@example.ORG": "@b.example"}}`, WantErr: "given twice"},
	})
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
