package upstream

import (
	"strings"
	"testing"
)

// refDecodeXtext is an independent RFC 3461 §4 decoder that accepts only
// what the RFC allows: xchars ("!" to "~" except "+" and "=") and "+" with
// two upper-case hex digits.
func refDecodeXtext(s string) (string, bool) {
	const hex = "0123456789ABCDEF"
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if len(s)-i < 3 {
				return "", false
			}
			hi, lo := strings.IndexByte(hex, s[i+1]), strings.IndexByte(hex, s[i+2])
			if hi < 0 || lo < 0 {
				return "", false
			}
			out = append(out, byte(hi<<4|lo))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", false
		default:
			out = append(out, c)
		}
	}
	return string(out), true
}

// FuzzXtext: xtext encodes any octets into RFC 3461 §4 xtext (hex in upper
// case, nothing that could end a command line or an attribute) that decodes
// back to them, at most three times as long, and keeps clean values that
// need no encoding as they are.
func FuzzXtext(f *testing.F) {
	for _, s := range []string{"", "client.example", "a+b", "a=b", "a b", "\r\nMAIL FROM:<x>", "\x00\xff", "[UNAVAILABLE]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := xtext(s)
		if strings.ContainsAny(enc, " \t\r\n\x00=") || len(enc) > 3*len(s) {
			t.Fatalf("xtext(%q) = %q", s, enc)
		}
		back, ok := refDecodeXtext(enc)
		if !ok || back != s {
			t.Fatalf("xtext(%q) = %q decodes to %q, %v", s, enc, back, ok)
		}
		if cleanValue(s) && !strings.ContainsAny(s, "+=") && enc != s {
			t.Fatalf("clean value %q encoded as %q", s, enc)
		}
	})
}

// parseAttrLine splits "VERB NAME=xtext ..." and decodes every value.
func parseAttrLine(t *testing.T, verb, line string) map[string]string {
	t.Helper()
	fields := strings.Split(line, " ")
	if fields[0] != verb || len(fields) < 2 {
		t.Fatalf("line %q", line)
	}
	attrs := map[string]string{}
	for _, f := range fields[1:] {
		name, raw, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("item %q of %q", f, line)
		}
		v, ok := refDecodeXtext(raw)
		if !ok {
			t.Fatalf("value %q of %q is not xtext", raw, line)
		}
		attrs[name] = v
	}
	return attrs
}

// FuzzAttrLines: whatever the client's identity and the attributes an
// XFORWARD peer forwarded, the XFORWARD and XCLIENT lines are printable
// ASCII within RFC 5321's command line limit, name only attributes the
// server offered, each exactly once, and carry values that decode to clean
// values (docs/TESTPLAN.md row 31): the forwarded or derived one when it is clean
// and fits, else [UNAVAILABLE].
func FuzzAttrLines(f *testing.F) {
	f.Add("192.0.2.1", 4242, "client.example", "client.example", "ESMTP", "IDENT", "4XyZ1", "NAME ADDR PROTO HELO SOURCE PORT IDENT")
	f.Add("2001:db8::1", 0, "", "a\r\nMAIL FROM:<x>", "SMTP", "helo", strings.Repeat("h+=", 85), "HELO NAME")
	f.Add("::ffff:192.0.2.1", 70000, "bad name", strings.Repeat("x", 300), "LMTP", "ADDR", "[UNAVAILABLE]", "ADDR PORT")
	f.Add("fe80::1%eth0", -1, "a..b", "", "", "SOURCE", "REMOTE", "")
	f.Fuzz(func(t *testing.T, ip string, port int, name, helo, proto, fwdName, fwdValue, offered string) {
		id := Identity{ClientIP: ip, ClientPort: port, ClientName: name, Helo: helo, Proto: proto,
			Forwarded: map[string]string{fwdName: fwdValue}}
		offer := attrSet(offered)

		sent := map[string]string{}
		for _, line := range xforwardLines(offer, id) {
			checkCommandLine(t, line)
			for k, v := range parseAttrLine(t, "XFORWARD", line) {
				if _, dup := sent[k]; dup || !offer[k] {
					t.Fatalf("attribute %s sent twice or not offered (%q)", k, offered)
				}
				sent[k] = v
			}
		}
		want := identityAttrs(id)
		want[strings.ToUpper(fwdName)] = fwdValue
		for _, k := range xforwardOrder {
			v, ok := want[k]
			if !offer[k] || !ok {
				if _, was := sent[k]; was {
					t.Fatalf("attribute %s sent without a value", k)
				}
				continue
			}
			if !cleanValue(v) || len("XFORWARD "+k+"="+xtext(v)) > maxCommandLine {
				v = unavailable
			}
			if sent[k] != v {
				t.Fatalf("%s sent as %q, want %q", k, sent[k], v)
			}
		}

		var names []string
		for _, k := range xclientOrder {
			if offer[k] {
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			return
		}
		line := xclientLine(names, identityAttrs(id))
		checkCommandLine(t, line)
		got := parseAttrLine(t, "XCLIENT", line)
		if len(got) != len(names) {
			t.Fatalf("XCLIENT line %q for %q", line, names)
		}
		for k, v := range got {
			if !cleanValue(v) {
				t.Fatalf("XCLIENT %s=%q is not clean", k, v)
			}
		}
	})
}

// checkCommandLine asserts a line fits one SMTP command (RFC 5321
// §4.5.3.1.4) and is printable ASCII.
func checkCommandLine(t *testing.T, line string) {
	t.Helper()
	if len(line) > maxCommandLine {
		t.Fatalf("line of %d bytes: %.80q", len(line), line)
	}
	for i := 0; i < len(line); i++ {
		if line[i] < ' ' || line[i] > '~' {
			t.Fatalf("line %q holds byte 0x%02x", line, line[i])
		}
	}
}
