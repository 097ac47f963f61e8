package sluicetest

import (
	"errors"
	"slices"
	"testing"

	sluice "github.com/sluice-mail/sluice/sdk/go"
)

func TestDNS(t *testing.T) {
	s := New()
	s.SetDNS("a", "Listed.Example.", "127.0.0.2", "127.0.0.4")
	s.SetDNS("TXT", "listed.example", "why\nlisted")
	s.SetDNSTemporary("slow.example")
	h := &host{s: s, live: true}
	for _, c := range []struct {
		qtype, name string
		want        []string
		err         error
	}{
		{"A", "listed.example", []string{"127.0.0.2", "127.0.0.4"}, nil},
		{"a", "LISTED.EXAMPLE.", []string{"127.0.0.2", "127.0.0.4"}, nil},
		{"TXT", "listed.example", []string{"why listed"}, nil},
		{"AAAA", "listed.example", nil, sluice.ErrNotFound},
		{"A", "unknown.example", nil, sluice.ErrNotFound},
		{"A", "slow.example", nil, sluice.ErrTemporary},
	} {
		got, err := h.DNSLookup(c.qtype, c.name)
		if !errors.Is(err, c.err) || !slices.Equal(got, c.want) {
			t.Errorf("DNSLookup(%s, %s) = %q, %v; want %q, %v", c.qtype, c.name, got, err, c.want, c.err)
		}
	}
	func() {
		defer func() {
			if _, ok := recover().(trap); !ok {
				t.Error("DNSLookup of type SRV did not trap")
			}
		}()
		h.DNSLookup("SRV", "listed.example")
	}()
}
