package message

import (
	"bytes"
	"testing"
)

// opReader decodes a mutation program from fuzz bytes.
type opReader struct{ b []byte }

func (r *opReader) byte() (byte, bool) {
	if len(r.b) == 0 {
		return 0, false
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, true
}

// bytes returns the next n bytes, n given by the next byte (0 to 255), or
// what is left.
func (r *opReader) bytes() []byte {
	n, _ := r.byte()
	if int(n) > len(r.b) {
		n = byte(len(r.b))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// wantBody is what Parse gives back for a body written by WriteTo: the body
// completed with a final CRLF when it had none. The same holds for a field.
func wantBody(b []byte) []byte {
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
		return append(append([]byte(nil), b...), '\r', '\n')
	}
	return b
}

// A field that ends the input without CRLF is completed when the message is
// written after a change, so a field added after it stays a field of its
// own (found by FuzzMutations: "A: 1" plus header_add gave "A: 1B: 2").
func TestUnterminatedLastField(t *testing.T) {
	m, err := Parse([]byte("A: 1"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Render([]byte("B"), []byte("2"))
	if err != nil {
		t.Fatal(err)
	}
	m.Insert(len(m.Fields), f)
	const want = "A: 1\r\nB: 2\r\n\r\n"
	if got := m.Bytes(); string(got) != want || m.Size() != len(want) {
		t.Fatalf("Bytes = %q (Size %d), want %q", got, m.Size(), want)
	}
	back, err := Parse(m.Bytes(), Limits{})
	if err != nil || len(back.Fields) != 2 || string(back.Fields[1].Value()) != "2" {
		t.Fatalf("re-parsed %+v, %v", back, err)
	}
}

// FuzzMutations applies a sequence of Insert, Change, Delete and SetBody
// operations, with inputs that Render and ValidBody accept, to a parsed
// message and to a plain model of it (a list of raw fields and a body).
// After every operation the message agrees with the model; at the end its
// bytes parse back into the same fields, byte for byte, and the same body
// (completed by a final CRLF), Size agrees with Bytes, and a clone taken
// before the changes still writes the original bytes.
func FuzzMutations(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"),
		[]byte("\x00\x01\x07X-Added\x05value\x01\x00\x06folded\x02\x01\x03\x04new\r\n"))
	f.Add([]byte("A: 1\r\n\tcont\r\nB: 2\r\n\r\nbody"),
		[]byte("\x01\x00\x0ea\r\n b\r\n\tc d e\x04\x01A\x00"))
	f.Add([]byte("no header\r\n"), []byte("\x00\x00\x01X\x00\x03\x00\x00"))
	f.Add([]byte("A: 1\r\nnot a field\r\nrest\r\n"), []byte("\x02\x00\x00\x05\x01X\x00"))
	f.Add([]byte(""), []byte("\x00\x00\x04Name\x03v\r\n\x03\x05x\r\ny"))
	f.Add([]byte("A: 1\r\n"), []byte("\x00\x01\x01B\x012"))
	f.Fuzz(func(t *testing.T, raw, program []byte) {
		m, err := Parse(raw, Limits{MaxHeaderBytes: 1 << 14, MaxHeaderFields: 200})
		if err != nil {
			return
		}
		orig := append([]byte(nil), m.Bytes()...)
		clone := m.Clone()

		// The model: raw fields and body.
		var fields [][]byte
		for _, fl := range m.Fields {
			fields = append(fields, append([]byte(nil), fl.Raw...))
		}
		body := append([]byte(nil), m.Body...)

		r := &opReader{b: program}
		for steps := 0; steps < 64; steps++ {
			op, ok := r.byte()
			if !ok {
				break
			}
			idx, _ := r.byte()
			i := int(idx) % (len(fields) + 2) // sometimes out of range
			switch op % 5 {
			case 0: // Insert
				name, value := r.bytes(), r.bytes()
				fl, err := Render(name, value)
				if err != nil {
					continue
				}
				if ok := m.Insert(i, fl); ok != (i <= len(fields)) {
					t.Fatalf("Insert(%d) = %v with %d fields", i, ok, len(fields))
				}
				if i <= len(fields) {
					fields = append(fields[:i], append([][]byte{fl.Raw}, fields[i:]...)...)
				}
			case 1: // Change
				value := r.bytes()
				ok, err := m.Change(i, value)
				if ok != (i < len(fields)) {
					t.Fatalf("Change(%d) = %v with %d fields", i, ok, len(fields))
				}
				if !ok || err != nil {
					if ok && ValidValue([]byte(m.Fields[i].Name), value) == nil {
						t.Fatalf("Change refused a valid value %q: %v", value, err)
					}
					continue
				}
				fl, err := Render([]byte(m.Fields[i].Name), value)
				if err != nil {
					t.Fatalf("Change accepted a value Render refuses: %v", err)
				}
				fields[i] = fl.Raw
			case 2: // Delete
				if ok := m.Delete(i); ok != (i < len(fields)) {
					t.Fatalf("Delete(%d) = %v with %d fields", i, ok, len(fields))
				}
				if i < len(fields) {
					fields = append(fields[:i], fields[i+1:]...)
				}
			case 3: // SetBody
				b := r.bytes()
				if ValidBody(b) != nil {
					continue
				}
				m.SetBody(append([]byte(nil), b...))
				body = append([]byte(nil), b...)
			case 4: // Find agrees with the model
				name := r.bytes()
				nth := int(idx % 4)
				want := -1
				for j, fl := range m.Fields {
					if bytes.EqualFold([]byte(fl.Name), name) {
						if nth == 0 {
							want = j
							break
						}
						nth--
					}
				}
				if got := m.Find(name, int(idx%4)); got != want {
					t.Fatalf("Find(%q, %d) = %d, want %d", name, idx%4, got, want)
				}
			}
			if len(m.Fields) != len(fields) {
				t.Fatalf("%d fields, model has %d", len(m.Fields), len(fields))
			}
			for j := range fields {
				if !bytes.Equal(m.Fields[j].Raw, fields[j]) {
					t.Fatalf("field %d is %q, model %q", j, m.Fields[j].Raw, fields[j])
				}
			}
		}

		if !bytes.Equal(clone.Bytes(), orig) {
			t.Fatalf("clone taken before the changes now writes %q, want %q", clone.Bytes(), orig)
		}
		out := m.Bytes()
		if m.Size() != len(out) {
			t.Fatalf("Size %d, Bytes %d", m.Size(), len(out))
		}
		back, err := Parse(out, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !m.Changed() {
			if !bytes.Equal(out, orig) {
				t.Fatal("unchanged message not written back byte for byte")
			}
			return
		}
		if len(back.Fields) != len(fields) {
			t.Fatalf("re-parsed %d fields, want %d\n%q", len(back.Fields), len(fields), out)
		}
		for j := range fields {
			if !bytes.Equal(back.Fields[j].Raw, wantBody(fields[j])) || back.Fields[j].Name != m.Fields[j].Name ||
				!bytes.Equal(back.Fields[j].Value(), m.Fields[j].Value()) {
				t.Fatalf("re-parsed field %d is %q, want %q\n%q", j, back.Fields[j].Raw, fields[j], out)
			}
		}
		if !bytes.Equal(back.Body, wantBody(body)) {
			t.Fatalf("re-parsed body %q, want %q", back.Body, wantBody(body))
		}
	})
}
