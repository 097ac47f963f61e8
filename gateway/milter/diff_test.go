package milter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-mail/sluice/gateway/message"
)

func fields(t testing.TB, specs ...string) []message.Field {
	var out []message.Field
	for _, s := range specs {
		name, value, _ := strings.Cut(s, ":")
		out = append(out, message.Field{Name: name, Raw: []byte(name + ":" + value + "\r\n")})
	}
	return out
}

// mta applies edits the way Postfix's cleanup does (and the milter
// protocol describes): Change addresses the Index-th field of that name
// (1-based, case-insensitive), an empty value deletes it, an index past
// the last appends; Insert puts the field at position Index of the whole
// header (clamped to the end); Add appends.
func mta(before []message.Field, edits []Edit) []message.Field {
	h := append([]message.Field(nil), before...)
	mk := func(name, value string) message.Field {
		return message.Field{Name: name, Raw: []byte(name + ":" + value + "\r\n")}
	}
	for _, e := range edits {
		switch e.Op {
		case Add:
			h = append(h, mk(e.Name, e.Value))
		case Insert:
			i := min(e.Index, len(h))
			h = append(h[:i], append([]message.Field{mk(e.Name, e.Value)}, h[i:]...)...)
		case Change:
			n, at := 0, -1
			for i, f := range h {
				if strings.EqualFold(f.Name, e.Name) {
					n++
					if n == e.Index {
						at = i
						break
					}
				}
			}
			switch {
			case at < 0 && e.Value != "":
				h = append(h, mk(e.Name, e.Value))
			case at < 0:
			case e.Value == "":
				h = append(h[:at], h[at+1:]...)
			default:
				h[at] = mk(e.Name, e.Value)
			}
		}
	}
	return h
}

func same(a, b []message.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i].Name, b[i].Name) || !bytes.Equal(a[i].Raw[len(a[i].Name):], b[i].Raw[len(b[i].Name):]) {
			return false
		}
	}
	return true
}

func show(h []message.Field) string {
	var b strings.Builder
	for _, f := range h {
		b.Write(f.Raw)
	}
	return b.String()
}

func TestHeaderEdits(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after []string
		want          []Edit
	}{
		{"unchanged", []string{"A: 1", "B: 2"}, []string{"A: 1", "B: 2"}, nil},
		{"append", []string{"A: 1"}, []string{"A: 1", "X: y"}, []Edit{{Add, 0, "X", " y"}}},
		{"insert at top", []string{"A: 1", "B: 2"}, []string{"Q: q", "A: 1", "B: 2"}, []Edit{{Insert, 0, "Q", " q"}}},
		{"insert in the middle", []string{"A: 1", "B: 2"}, []string{"A: 1", "Q: q", "B: 2"}, []Edit{{Insert, 1, "Q", " q"}}},
		{"change the second of a repeated field", []string{"D: 1", "D: 2", "D: 3"}, []string{"D: 1", "D: two", "D: 3"},
			[]Edit{{Change, 2, "D", " two"}}},
		{"delete the first then change the new second", []string{"S: s", "D: one", "D: two", "D: three"}, []string{"S: s", "D: two", "D: changed"},
			[]Edit{{Change, 1, "D", ""}, {Change, 2, "D", " changed"}}},
		{"delete the last of three", []string{"D: 1", "D: 2", "D: 3"}, []string{"D: 1", "D: 2"}, []Edit{{Change, 3, "D", ""}}},
		{"field names compare case-insensitively", []string{"d: 1", "D: 2"}, []string{"d: 1", "D: new"}, []Edit{{Change, 2, "D", " new"}}},
		{"a folded value keeps its CRLF WSP", []string{"A: 1"}, []string{"A: 1", "F: x\r\n\ty"}, []Edit{{Add, 0, "F", " x\r\n\ty"}}},
		{"quarantine on top of a changed subject", []string{"Subject: a", "To: b"}, []string{"X-Sluice-Quarantine: q", "Subject: [tag] a", "To: b"},
			[]Edit{{Insert, 0, "X-Sluice-Quarantine", " q"}, {Change, 1, "Subject", " [tag] a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := fields(t, tc.before...), fields(t, tc.after...)
			got := HeaderEdits(before, after)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("edits %v, want %v", got, tc.want)
			}
			if res := mta(before, got); !same(res, after) {
				t.Errorf("the MTA ends with\n%s\nwant\n%s", show(res), show(after))
			}
		})
	}
}

// FuzzHeaderEdits: for any two headers over a small alphabet of names and
// values (so repeated fields are common), the edits turn the first into
// the second under the MTA's index semantics.
func FuzzHeaderEdits(f *testing.F) {
	f.Add([]byte{0x01, 0x12, 0x21}, []byte{0x12, 0x01})
	f.Add([]byte{0x00, 0x00, 0x00}, []byte{0x00, 0x10})
	f.Add([]byte{}, []byte{0x33, 0x33})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		mk := func(spec []byte) []message.Field {
			if len(spec) > 40 {
				spec = spec[:40]
			}
			var s []string
			for _, c := range spec {
				s = append(s, fmt.Sprintf("%s: %d", []string{"A", "b", "B", "C"}[c>>4&3], c&3))
			}
			return fields(t, s...)
		}
		before, after := mk(a), mk(b)
		edits := HeaderEdits(before, after)
		if res := mta(before, edits); !same(res, after) {
			t.Fatalf("before\n%s\nafter\n%s\nedits %v give\n%s", show(before), show(after), edits, show(res))
		}
	})
}
