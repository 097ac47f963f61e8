package smtpd

import (
	"maps"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// refEncodeXtext is an independent RFC 3461 §4 encoder: "!" to "~" except
// "+" and "=" stand for themselves, every other octet is "+" and two
// upper-case hex digits (what gateway/upstream sends).
func refEncodeXtext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '!' && c <= '~' && c != '+' && c != '=' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('+')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// refDecodeXtext is an independent RFC 3461 §4 decoder, accepting lower-case
// hex as decodeXtext does.
func refDecodeXtext(s string) (string, bool) {
	hexval := func(c byte) int { return strings.IndexByte("0123456789abcdef", c|0x20) }
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if len(s)-i < 3 {
				return "", false
			}
			hi, lo := hexval(s[i+1]), hexval(s[i+2])
			// c|0x20 also folds a few punctuation bytes onto letters: only
			// digits and letters are hex digits.
			if hi < 0 || lo < 0 || !isAlnum(s[i+1]) || !isAlnum(s[i+2]) {
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

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// FuzzXtext: decodeXtext agrees with an independent decoder on any input,
// and decodes what an encoder produced back to the original octets.
func FuzzXtext(f *testing.F) {
	for _, s := range []string{"", "client.example", "a+2Bb", "+0D+0A", "+", "+4", "+4g", "a=b", "a b", "+7e+7E", "\xff", "+:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeXtext(s)
		want, wantOK := refDecodeXtext(s)
		if ok != wantOK || got != want {
			t.Fatalf("decodeXtext(%q) = %q, %v; reference %q, %v", s, got, ok, want, wantOK)
		}
		if ok && len(got) > len(s) {
			t.Fatalf("decoded %q longer than %q", got, s)
		}
		enc := refEncodeXtext(s)
		back, ok := decodeXtext(enc)
		if !ok || back != s {
			t.Fatalf("decodeXtext(%q) = %q, %v; want %q", enc, back, ok, s)
		}
	})
}

// checkXForwardAttrs asserts what every accepted XFORWARD attribute obeys
// (docs/TESTPLAN.md row 31).
func checkXForwardAttrs(t *testing.T, attrs map[string]string) {
	t.Helper()
	for k, v := range attrs {
		if !strings.Contains(" "+xforwardAttrNames+" ", " "+k+" ") {
			t.Fatalf("attribute %q accepted", k)
		}
		if v == "" || len(v) > maxXForwardValue {
			t.Fatalf("%s value of %d bytes accepted", k, len(v))
		}
		for i := 0; i < len(v); i++ {
			if v[i] <= ' ' || v[i] > '~' {
				t.Fatalf("%s value %q holds byte 0x%02x", k, v, v[i])
			}
		}
	}
}

// FuzzParseXForward: whatever the arguments of XFORWARD, parseXForward
// either refuses them with a 501 whose text is one clean line, or returns
// known attributes whose decoded values are 1 to 255 bytes of printable
// ASCII without spaces; and the accepted attributes, encoded again, parse
// to the same values.
func FuzzParseXForward(f *testing.F) {
	for _, s := range []string{
		"NAME=client.example ADDR=192.0.2.7 PORT=4242",
		"PROTO=ESMTP HELO=client+2Bx.example IDENT=4XyZ1 SOURCE=REMOTE",
		"ADDR=IPV6:2001:db8::1 NAME=[UNAVAILABLE]",
		"name=[TEMPUNAVAIL] addr=[UNAVAILABLE]",
		"HELO=a+0D+0AMAIL",
		"HELO=a+20b",
		"HELO=" + strings.Repeat("x", 256),
		"PORT=0", "PORT=65536", "SOURCE=elsewhere", "PROTO=E5MTP",
		"NAME=a..b", "NAME=-a.example.",
		"FOO=bar", "=x", "NAME", "NAME=", "NAME==",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		attrs, rep := parseXForward(arg)
		if rep != nil {
			if attrs != nil {
				t.Fatalf("both attributes %v and reply %v", attrs, rep)
			}
			if rep.Code != 501 || len(rep.Lines) != 1 {
				t.Fatalf("reply %v", rep)
			}
			// The command line reader never passes CR, LF or NUL.
			if !strings.ContainsAny(arg, "\r\n\x00") && strings.ContainsAny(rep.Format()[:len(rep.Format())-2], "\r\n\x00") {
				t.Fatalf("reply %q is not one line", rep.Format())
			}
			return
		}
		checkXForwardAttrs(t, attrs)
		var line []string
		for k, v := range attrs {
			line = append(line, k+"="+refEncodeXtext(v))
		}
		again, rep := parseXForward(strings.Join(line, " "))
		if rep != nil || !maps.Equal(again, attrs) {
			t.Fatalf("re-encoded %q: %v, %v; want %v", line, again, rep, attrs)
		}
	})
}

// trustedPipe is a net.Pipe end whose peer looks like 127.0.0.1, so that a
// server with XForwardPeers 127.0.0.0/8 takes XFORWARD from it.
type trustedPipe struct{ net.Conn }

func (trustedPipe) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}

// FuzzXForwardSession feeds arbitrary bytes to a session from an
// authorized XFORWARD peer, after a prefix that puts it in a given state.
// Besides FuzzSession's checks, every Origin the session is told holds only
// attributes that checkXForwardAttrs accepts.
func FuzzXForwardSession(f *testing.F) {
	prefixes := []string{
		"",
		"EHLO postfix.example\r\n",
		"EHLO postfix.example\r\nXFORWARD NAME=c.example ADDR=192.0.2.7\r\n",
		"EHLO postfix.example\r\nXFORWARD HELO=x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n",
	}
	addSeeds(f, len(prefixes), []string{
		"XFORWARD NAME=client.example ADDR=192.0.2.7 PORT=4242\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n",
		"XFORWARD HELO=a+0D+0AMAIL+20FROM:<x@y>\r\nMAIL FROM:<a@b.example>\r\n",
		"XFORWARD IDENT=x\r\nXFORWARD SOURCE=LOCAL PROTO=SMTP\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nS: x\r\n\r\nb\r\n.\r\nMAIL FROM:<e@f.example>\r\n",
		"XFORWARD ADDR=IPV6:2001:db8::1\r\nRSET\r\nMAIL FROM:<a@b.example>\r\n",
		"XCLIENT ADDR=192.0.2.1\r\nMAIL FROM:<a@b.example>\r\n",
		"XFORWARD NAME=x\nMAIL FROM:<a@b.example>\r\n",
		"STARTTLS\r\nXFORWARD NAME=x\r\n",
		"BDAT 5 LAST\r\nhello",
		"RCPT TO:<a@b.example>\r\nXFORWARD NAME=late.example\r\nDATA\r\n",
	})
	f.Fuzz(func(t *testing.T, state uint8, in []byte) {
		b := &originBackend{fakeBackend: newFakeBackend()}
		b.data = accept250
		logs := newLogRecorder()
		cfg := fuzzConfig(logs)
		cfg.XForwardPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		s := New(cfg, b)
		srv, cli := net.Pipe()
		fuzzSession(t, s, trustedPipe{srv}, cli, logs, b.fakeBackend, []byte(prefixes[int(state)%len(prefixes)]), in)
		for _, o := range b.Origins() {
			checkXForwardAttrs(t, o.XForward)
		}
		for _, m := range b.Messages() {
			checkStored(t, m)
		}
	})
}
