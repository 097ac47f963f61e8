package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// Limits of ParseZone. A zone file is operator input, but it is read by
// `sluice test` too, so it is bounded like any other input.
const (
	// MaxZoneBytes bounds the size of a zone file.
	MaxZoneBytes = 16 << 20
	// MaxZoneRecords bounds the number of records a zone file yields,
	// $GENERATE included.
	MaxZoneRecords = 100_000
	// maxCNAMEDepth bounds how many CNAMEs Zone.Lookup follows.
	maxCNAMEDepth = 8
	// defaultZoneTTL is the TTL of records before any $TTL or explicit
	// TTL; Zone ignores TTLs, so it only spares test zones a $TTL line.
	defaultZoneTTL = 3600
)

// Zone is a Resolver answering from zone-file records only (for `sluice
// test --dns-file`), with no network. Its answers have the text forms of
// Client's. A Zone is immutable after ParseZone and safe for concurrent use.
type Zone struct {
	// rrsets maps "TYPE owner." (owner lower-cased, fully qualified) to
	// the rendered records, in file order without duplicates.
	rrsets map[string][]string
}

var _ Resolver = (*Zone)(nil)

// ParseZone reads RFC 1035 §5 master-file text as miekg/dns's ZoneParser
// accepts it: $ORIGIN, $TTL, relative names, TXT with several strings, MX,
// A, AAAA, PTR, NS, CNAME. Records of other types (SOA, SRV, ...) and of
// classes other than IN are accepted and ignored: Lookup cannot ask for
// them. $INCLUDE is refused. Errors carry "file:line: message"; errors
// about the zone as a whole (its size, a CNAME beside other records) carry
// "file: message". origin "" means "."; filename is used in errors.
func ParseZone(r io.Reader, filename, origin string) (*Zone, error) {
	return parseZone(r, filename, origin, MaxZoneBytes, MaxZoneRecords)
}

// parseZone is ParseZone with the limits as parameters, for tests.
func parseZone(r io.Reader, filename, origin string, maxBytes int64, maxRecords int) (*Zone, error) {
	if origin == "" {
		origin = "."
	}
	origin = mdns.Fqdn(origin)
	if _, ok := mdns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("%s: invalid origin %q", filename, origin)
	}
	lr := &limitedReader{r: r, n: maxBytes}
	// The file name given to the parser is "": it would only serve
	// $INCLUDE, which is off, and zoneError adds it in our format.
	zp := mdns.NewZoneParser(lr, origin, "")
	zp.SetDefaultTTL(defaultZoneTTL)
	z := &Zone{rrsets: make(map[string][]string)}
	cnames := make(map[string]int) // owner -> number of CNAME records
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if n++; n > maxRecords {
			return nil, fmt.Errorf("%s: more than %d records", filename, maxRecords)
		}
		h := rr.Header()
		if h.Class != mdns.ClassINET {
			continue
		}
		tname := mdns.TypeToString[h.Rrtype]
		if _, ok := qtypes[tname]; !ok {
			continue
		}
		text, ok := format(rr, h.Rrtype)
		if !ok {
			continue
		}
		owner := strings.ToLower(h.Name)
		key := tname + " " + owner
		if slices.Contains(z.rrsets[key], text) {
			continue // an RRset holds no duplicates (RFC 2181 §5)
		}
		z.rrsets[key] = append(z.rrsets[key], text)
		if h.Rrtype == mdns.TypeCNAME {
			cnames[owner]++
		}
	}
	if lr.over {
		return nil, fmt.Errorf("%s: larger than %d bytes", filename, maxBytes)
	}
	if err := zp.Err(); err != nil {
		return nil, zoneError(filename, err)
	}
	// RFC 1034 §3.6.2: a name with a CNAME has no other data, and one
	// CNAME only (RFC 2181 §10.1).
	for owner, k := range cnames {
		if k > 1 {
			return nil, fmt.Errorf("%s: %s has %d CNAME records; a name has at most one (RFC 2181 §10.1)", filename, owner, k)
		}
		for t := range qtypes {
			if t != "CNAME" && len(z.rrsets[t+" "+owner]) > 0 {
				return nil, fmt.Errorf("%s: %s has a CNAME and %s records; a CNAME has no other data beside it (RFC 1034 §3.6.2)", filename, owner, t)
			}
		}
	}
	return z, nil
}

// Lookup implements Resolver. A name or type the zone lacks is
// ErrNotFound. For a type other than CNAME, a CNAME at the name is
// followed, up to 8 times; a longer chain or a loop is ErrNotFound wrapped
// with the reason. A done ctx is ErrTemporary, as Client would answer.
func (z *Zone) Lookup(ctx context.Context, qtype, name string) ([]string, error) {
	qtype = strings.ToUpper(qtype)
	if _, ok := qtypes[qtype]; !ok {
		return nil, fmt.Errorf("unsupported type %q: %w", qtype, ErrNotFound)
	}
	fqdn := mdns.Fqdn(strings.ToLower(name))
	if _, ok := mdns.IsDomainName(fqdn); !ok || name == "" {
		return nil, fmt.Errorf("invalid name %q: %w", name, ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	for range maxCNAMEDepth + 1 {
		if recs, ok := z.rrsets[qtype+" "+fqdn]; ok {
			return slices.Clone(recs), nil
		}
		target, ok := z.rrsets["CNAME "+fqdn]
		if !ok || qtype == "CNAME" {
			return nil, ErrNotFound
		}
		fqdn = strings.ToLower(target[0])
	}
	return nil, fmt.Errorf("CNAME chain from %q longer than %d (or a loop): %w", name, maxCNAMEDepth, ErrNotFound)
}

// zoneError renders a ZoneParser error as "file:line: message". The
// parser's *ParseError keeps its fields unexported; its text ends with
// ` at line: LINE:COLUMN`.
func zoneError(filename string, err error) error {
	var pe *mdns.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", filename, err)
	}
	s := strings.TrimPrefix(pe.Error(), "dns: ")
	i := strings.LastIndex(s, " at line: ")
	if i < 0 {
		return fmt.Errorf("%s: %s", filename, s)
	}
	pos := s[i+len(" at line: "):]
	line, _, _ := strings.Cut(pos, ":")
	if _, err := strconv.Atoi(line); err != nil || line == "0" {
		// No position (e.g. a bad origin): keep the text as it is.
		return fmt.Errorf("%s: %s", filename, s[:i])
	}
	return fmt.Errorf("%s:%s: %s", filename, line, s[:i])
}

// limitedReader reads at most n bytes from r and records whether r had
// more: the zone parser takes a read error for the end of its input, so
// the overflow is reported after parsing.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if k, _ := io.ReadFull(l.r, one[:]); k > 0 {
			l.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}
