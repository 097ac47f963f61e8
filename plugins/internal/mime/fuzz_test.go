package mime

import "testing"

// FuzzParse checks that any body parses without a panic, within the limits,
// into parts that nest properly.
func FuzzParse(f *testing.F) {
	f.Add("multipart/mixed; boundary=b", []byte("--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--c--\r\n--b--\r\n"))
	f.Add("multipart/digest; boundary=\"=_x\"", []byte("--=_x\r\n\r\n\r\n--=_x--"))
	f.Add("text/plain", []byte("hello\r\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		lim := Limits{MaxDepth: 4, MaxParts: 20}
		parts, err := Parse(Header{{Name: "Content-Type", Value: ct}}, body, lim)
		if len(parts) == 0 {
			t.Fatal("no top-level part")
		}
		if len(parts) > lim.MaxParts {
			t.Fatalf("%d parts returned with %v", len(parts), err)
		}
		for _, p := range parts {
			if p.Start > p.BodyStart || p.BodyStart > p.End || p.End > len(body) {
				t.Fatalf("bad offsets %d %d %d of %d", p.Start, p.BodyStart, p.End, len(body))
			}
			if err == nil && p.Depth > lim.MaxDepth {
				t.Fatalf("depth %d", p.Depth)
			}
		}
		checkOrder(t, parts)
	})
}
