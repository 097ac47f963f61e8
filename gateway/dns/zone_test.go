package dns

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func loadZone(t *testing.T, path, origin string) *Zone {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := ParseZone(f, path, origin)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestZoneLookup(t *testing.T) {
	z := loadZone(t, "testdata/example.zone", "")
	ctx := context.Background()
	tests := []struct {
		qtype, name string
		want        []string
		err         error
	}{
		{"A", "example.test", []string{"192.0.2.1", "192.0.2.2"}, nil},
		{"a", "EXAMPLE.test.", []string{"192.0.2.1", "192.0.2.2"}, nil},
		{"AAAA", "example.test", []string{"2001:db8::1"}, nil},
		{"MX", "example.test", []string{"10 mx1.example.test.", "20 MX2.Example.NET."}, nil},
		{"NS", "example.test", []string{"ns1.example.test.", "ns2.example.net."}, nil},
		{"TXT", "example.test", []string{"v=spf1 ip4:192.0.2.0/24 -all"}, nil},
		{"TXT", "_dmarc.example.test", []string{"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"}, nil},
		{"TXT", "sel._domainkey.example.test", []string{"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}, nil},
		{"TXT", "quoted.example.test", []string{"say \"hi\" \\o/semi;colon\ttabA"}, nil},
		{"A", "mixed.case.example.test", []string{"192.0.2.9"}, nil},
		{"PTR", "1.2.0.192.in-addr.arpa", []string{"example.test."}, nil},
		{"PTR", "53.2.0.192.in-addr.arpa.", []string{"ns1.example.test."}, nil},
		// CNAMEs: asked for directly, followed for other types.
		{"CNAME", "www.example.test", []string{"example.test."}, nil},
		{"A", "www.example.test", []string{"192.0.2.1", "192.0.2.2"}, nil},
		{"MX", "alias1.example.test", []string{"10 mx1.example.test.", "20 MX2.Example.NET."}, nil},
		{"CNAME", "alias1.example.test", []string{"alias2.example.test."}, nil},
		{"A", "ftp.example.test", nil, ErrNotFound}, // target outside the zone
		{"A", "d1.loop.example.test", []string{"192.0.2.99"}, nil},
		{"A", "c1.loop.example.test", nil, ErrNotFound},
		{"A", "a.loop.example.test", nil, ErrNotFound},
		{"CNAME", "a.loop.example.test", []string{"b.loop.example.test."}, nil},
		// Missing names and types.
		{"A", "nx.example.test", nil, ErrNotFound},
		{"AAAA", "ns1.example.test", nil, ErrNotFound}, // NODATA
		{"CNAME", "example.test", nil, ErrNotFound},
		{"SRV", "srv.example.test", nil, ErrNotFound}, // unsupported type
		{"A", "srv.example.test", nil, ErrNotFound},   // ignored record
		{"A", "", nil, ErrNotFound},
		{"A", "bad..name", nil, ErrNotFound},
	}
	for _, tt := range tests {
		got, err := z.Lookup(ctx, tt.qtype, tt.name)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("Lookup(%s, %q) error = %v, want %v", tt.qtype, tt.name, err, tt.err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%s, %q) = %q, want %q", tt.qtype, tt.name, got, tt.want)
		}
	}
}

func TestZoneLookupLoopReason(t *testing.T) {
	z := loadZone(t, "testdata/example.zone", "")
	_, err := z.Lookup(context.Background(), "TXT", "a.loop.example.test")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "longer than 8") {
		t.Fatalf("loop error = %v, want ErrNotFound naming the bound", err)
	}
}

func TestZoneLookupCopies(t *testing.T) {
	z := loadZone(t, "testdata/example.zone", "")
	ctx := context.Background()
	got, _ := z.Lookup(ctx, "A", "example.test")
	got[0] = "changed"
	if again, _ := z.Lookup(ctx, "A", "example.test"); again[0] != "192.0.2.1" {
		t.Fatalf("mutating an answer changed the zone: %q", again)
	}
}

func TestZoneLookupDoneContext(t *testing.T) {
	z := loadZone(t, "testdata/example.zone", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := z.Lookup(ctx, "A", "example.test"); !errors.Is(err, ErrTemporary) {
		t.Fatalf("Lookup with a done context: error = %v, want ErrTemporary", err)
	}
}

func TestZoneOrigin(t *testing.T) {
	const text = "@ A 192.0.2.7\nmail MX 5 @\nabs.other.test. TXT \"x\"\n"
	z, err := ParseZone(strings.NewReader(text), "inline.zone", "Sub.Example.Test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := z.Lookup(ctx, "A", "sub.example.test"); err != nil || !slices.Equal(got, []string{"192.0.2.7"}) {
		t.Errorf("A at origin = %q, %v", got, err)
	}
	if got, err := z.Lookup(ctx, "MX", "mail.sub.example.test"); err != nil || !slices.Equal(got, []string{"5 Sub.Example.Test."}) {
		t.Errorf("MX relative to origin = %q, %v", got, err)
	}
	if got, err := z.Lookup(ctx, "TXT", "abs.other.test"); err != nil || !slices.Equal(got, []string{"x"}) {
		t.Errorf("absolute name = %q, %v", got, err)
	}
	// Without an origin, relative names hang off the root.
	z, err = ParseZone(strings.NewReader("host A 192.0.2.8\n"), "root.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := z.Lookup(ctx, "A", "host"); err != nil || !slices.Equal(got, []string{"192.0.2.8"}) {
		t.Errorf("A at host. = %q, %v", got, err)
	}
}

func TestZoneErrors(t *testing.T) {
	tests := []struct {
		name, text, origin string
		want               []string // substrings of the error
	}{
		{"bad address", "$ORIGIN t.\nok A 192.0.2.1\nbad A 999.1.1.1\n", "", []string{"my.zone:3: ", "A"}},
		{"unknown type", "\n\nx BOGUS 1\n", "t", []string{"my.zone:3: "}},
		{"bad ttl directive", "$TTL forever\n", "", []string{"my.zone:1: ", "forever"}},
		{"unterminated paren", "x TXT ( \"a\"\n", "t", []string{"my.zone:"}},
		{"include", "$INCLUDE /etc/passwd\n", "t", []string{"my.zone:1: ", "$INCLUDE"}},
		{"bad mx", "x MX ten mx.t.\n", "t", []string{"my.zone:1: ", "MX"}},
		{"two cnames", "x CNAME a.t.\nx CNAME b.t.\n", "t", []string{"my.zone: ", "x.t.", "CNAME"}},
		{"cname and data", "x CNAME a.t.\nx TXT \"v\"\n", "t", []string{"my.zone: ", "x.t.", "TXT"}},
		{"bad origin", "x A 192.0.2.1\n", "bad..origin", []string{"my.zone: ", "origin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := ParseZone(strings.NewReader(tt.text), "my.zone", tt.origin)
			if err == nil {
				t.Fatalf("ParseZone succeeded (%v), want an error", z)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestZoneTooLarge(t *testing.T) {
	const line = "h A 192.0.2.1\n" // 15 bytes
	text := strings.Repeat(line, 10)
	if _, err := parseZone(strings.NewReader(text), "big.zone", "t", int64(len(text)), 100); err != nil {
		t.Fatalf("zone at the size limit: %v", err)
	}
	_, err := parseZone(strings.NewReader(text+"\n"), "big.zone", "t", int64(len(text)), 100)
	if err == nil || !strings.Contains(err.Error(), "big.zone: larger than") {
		t.Fatalf("zone one byte over the limit: error = %v", err)
	}
	gen := "$GENERATE 1-60 h$ A 192.0.2.1\n$GENERATE 1-60 g$ A 192.0.2.1\n"
	if _, err := parseZone(strings.NewReader(gen), "gen.zone", "t", 1<<20, 120); err != nil {
		t.Fatalf("zone at the record limit: %v", err)
	}
	if _, err := parseZone(strings.NewReader(gen), "gen.zone", "t", 1<<20, 119); err == nil || !strings.Contains(err.Error(), "gen.zone: more than 119 records") {
		t.Fatalf("zone with too many records: error = %v", err)
	}
}

// FuzzParseZone feeds arbitrary text to ParseZone: it must not panic, and
// a zone it accepts must answer lookups without panicking.
func FuzzParseZone(f *testing.F) {
	seed, err := os.ReadFile("testdata/example.zone")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed), "")
	f.Add("x CNAME x\n", "t")
	f.Add("$ORIGIN a.\n@ TXT \"a\" \"b\"\n", "")
	f.Add("$GENERATE 1-3 h$ A 192.0.2.$\n", "t")
	f.Fuzz(func(t *testing.T, text, origin string) {
		z, err := ParseZone(strings.NewReader(text), "fuzz.zone", origin)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.zone:") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		ctx := context.Background()
		for name := range z.rrsets {
			_, owner, _ := strings.Cut(name, " ")
			for qt := range qtypes {
				_, _ = z.Lookup(ctx, qt, owner)
			}
		}
	})
}
