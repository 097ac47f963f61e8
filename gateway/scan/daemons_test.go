package scan

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/internal/scantest"
)

// GTUBE is SpamAssassin's Generic Test for Unsolicited Bulk Email, which
// rspamd honours too.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

var testEnv = Envelope{
	ClientIP: "192.0.2.10", Helo: "client.example.org", Sender: "alice@example.org",
	Recipients: []string{"bob@example.net", "carol@example.net"}, Hostname: "client.example.org",
	QueueID: "4XyZ1abc", User: "",
}

// mail builds a plain RFC 5322 message.
func mail(subject, body string) Bytes {
	return Bytes("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n" +
		"Subject: " + subject + "\r\nDate: Mon, 07 Dec 2026 04:00:00 +0000\r\n" +
		"Message-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body + "\r\n")
}

// withAttachment is a multipart message whose second part is data, base64.
func withAttachment(name string, data []byte) Bytes {
	b64 := base64.StdEncoding.EncodeToString(data)
	return Bytes("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: the file\r\n" +
		"Date: Mon, 07 Dec 2026 04:00:00 +0000\r\nMessage-ID: <att@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b1\r\nContent-Type: application/octet-stream; name=\"" + name + "\"\r\n" +
		"Content-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64 + "\r\n--b1--\r\n")
}

const plainBody = "Hello Bob,\r\n\r\nthe minutes of Thursday's meeting are below. We agreed to move the\r\n" +
	"review to next week and to keep the current schedule for the release.\r\n\r\nRegards,\r\nAlice"

func hasSymbol(r *Result, name string) bool {
	return slices.ContainsFunc(r.Symbols, func(s Symbol) bool { return s.Name == name })
}

func TestRspamdGTUBEIsReject(t *testing.T) {
	s := scanner(t, EngineRspamd)
	res, err := s.Scan(context.Background(), testEnv, mail("offer", gtube))
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "reject" || !res.Spam || !hasSymbol(res, "GTUBE") {
		t.Fatalf("GTUBE: %+v", res)
	}
	t.Logf("GTUBE: action %q score %v/%v message %q, %d symbols, add_headers %v", res.Action, res.Score, res.RequiredScore, res.Message, len(res.Symbols), res.AddHeaders)
}

func TestRspamdPlainIsNoAction(t *testing.T) {
	s := scanner(t, EngineRspamd)
	res, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "no action" || res.Spam || res.RequiredScore <= 0 || len(res.Symbols) == 0 {
		t.Fatalf("plain: %+v", res)
	}
	// milter_headers (configured by scantest) asks for headers on every
	// message: the milter block reaches the Result.
	if !slices.ContainsFunc(res.AddHeaders, func(h AddHeader) bool { return h.Name == "X-Spamd-Bar" }) {
		t.Fatalf("no X-Spamd-Bar in the milter block: %+v", res.AddHeaders)
	}
	if v, ok := res.Value("required_score"); !ok || v != num(res.RequiredScore) {
		t.Fatalf("required_score = %q, %v", v, ok)
	}
	t.Logf("plain: score %v/%v symbols %v add %v remove %v", res.Score, res.RequiredScore, res.Symbols, res.AddHeaders, res.RemoveHeaders)
}

// TestRspamdBounce: the null sender (From: <>) is understood.
func TestRspamdBounce(t *testing.T) {
	s := scanner(t, EngineRspamd)
	env := testEnv
	env.Sender = ""
	res, err := s.Scan(context.Background(), env, mail("Delivery Status Notification", plainBody))
	if err != nil || res.Action != "no action" {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestRspamdAddHeader(t *testing.T) {
	s := scanner(t, EngineRspamd)
	res, err := s.Scan(context.Background(), testEnv, mail("weekly "+scantest.AddHeaderSubject, plainBody))
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "add header" || !hasSymbol(res, "SLUICE_TEST_ADD_HEADER") {
		t.Fatalf("add header: %+v", res)
	}
}

// TestRspamdPooled: scans in a row reuse kept-alive connections and many at
// once stay within MaxConns.
func TestRspamdPooled(t *testing.T) {
	s := scanner(t, EngineRspamd, func(c *Config) { c.MaxConns = 2 })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			res, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
			if err == nil && res.Action != "no action" {
				err = fmt.Errorf("action %q", res.Action)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestClamdEICAR(t *testing.T) {
	s := scanner(t, EngineClamd)
	for name, msg := range map[string]Bytes{
		"attachment": withAttachment("eicar.com", scantest.EICAR),
		"inline":     mail("test", string(scantest.EICAR)),
	} {
		res, err := s.Scan(context.Background(), testEnv, msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !res.Infected || res.Virus != scantest.EICARSignature {
			t.Fatalf("%s: %+v", name, res)
		}
		if v, _ := res.Value("virus"); v != scantest.EICARSignature {
			t.Fatalf("%s: Value(virus) = %q", name, v)
		}
	}
}

// TestClamdUnixSocket: clamd over "unix:/path", as Debian runs it.
func TestClamdUnixSocket(t *testing.T) {
	s := newScanner(t, Config{Name: "av", Engine: EngineClamd, Address: daemon(t, EngineClamd).Socket})
	res, err := s.Scan(context.Background(), testEnv, withAttachment("eicar.com", scantest.EICAR))
	if err != nil || !res.Infected || res.Virus != scantest.EICARSignature {
		t.Fatalf("%+v, %v", res, err)
	}
	res, err = s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
	if err != nil || res.Infected {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestClamdClean(t *testing.T) {
	s := scanner(t, EngineClamd)
	for _, msg := range []Bytes{mail("minutes", plainBody), withAttachment("notes.txt", []byte("just notes\n"))} {
		res, err := s.Scan(context.Background(), testEnv, msg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Infected || res.Virus != "" || res.Skipped != "" {
			t.Fatalf("clean: %+v", res)
		}
	}
}

// TestClamdStreamLimit: a message over clamd's own StreamMaxLength (the
// gateway's max_size unset) comes back skipped "too large", not an error.
func TestClamdStreamLimit(t *testing.T) {
	s := scanner(t, EngineClamd)
	big := mail("big", strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", scantest.StreamMaxLength/64+100))
	res, err := s.Scan(context.Background(), testEnv, big)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != SkippedTooLarge {
		t.Fatalf("over StreamMaxLength: %+v", res)
	}
	// Large but under the limit: several INSTREAM chunks, scanned.
	res, err = s.Scan(context.Background(), testEnv, withAttachment("eicar.com", append(scantest.EICAR, make([]byte, 300<<10)...)))
	if err != nil || !res.Infected {
		t.Fatalf("multi-chunk EICAR: %+v, %v", res, err)
	}
}

func TestSpamdGTUBEIsSpam(t *testing.T) {
	s := scanner(t, EngineSpamd)
	res, err := s.Scan(context.Background(), testEnv, mail("offer", gtube))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Spam || res.Score < 1000 || res.RequiredScore != 5 || !hasSymbol(res, "GTUBE") {
		t.Fatalf("GTUBE: %+v", res)
	}
	// REPORT gives the report and the rules with their points.
	sp := s.(*spamd)
	sp.command = SpamdReport
	res, err = s.Scan(context.Background(), testEnv, mail("offer", gtube))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Symbols, func(s Symbol) bool { return s.Name == "GTUBE" })
	if !res.Spam || i < 0 || res.Symbols[i].Score != 1000 || !strings.Contains(res.Report, "GTUBE") {
		t.Fatalf("GTUBE REPORT: %+v", res)
	}
}

func TestSpamdPlainIsHam(t *testing.T) {
	s := scanner(t, EngineSpamd)
	res, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
	if err != nil {
		t.Fatal(err)
	}
	if res.Spam || res.Score >= 5 || res.RequiredScore != 5 {
		t.Fatalf("plain: %+v", res)
	}
	t.Logf("plain: score %v/%v symbols %v", res.Score, res.RequiredScore, res.Symbols)
}

// gated is a message whose first WriteTo stops half-way until released, so a
// test can kill the daemon in the middle of a scan.
type gated struct {
	msg     Bytes
	half    chan struct{} // closed when half is written
	release chan struct{}
	once    sync.Once
}

func newGated(msg Bytes) *gated {
	return &gated{msg: msg, half: make(chan struct{}), release: make(chan struct{})}
}

func (g *gated) Size() int { return len(g.msg) }

func (g *gated) WriteTo(w io.Writer) (int64, error) {
	first := false
	g.once.Do(func() { first = true })
	if !first {
		return g.msg.WriteTo(w)
	}
	h := len(g.msg) / 2
	n, err := w.Write(g.msg[:h])
	if f, ok := w.(interface{ Flush() error }); ok && err == nil {
		err = f.Flush()
	}
	close(g.half)
	if err != nil {
		return int64(n), err
	}
	<-g.release
	m, err := w.Write(g.msg[h:])
	return int64(n + m), err
}

// TestKilledMidScanIsUnreachable kills each daemon while a scan is sending
// its message: the scan fails with ErrUnreachable, and so does the next one
// (nothing listens). The daemon is restarted for the other tests.
func TestKilledMidScanIsUnreachable(t *testing.T) {
	for _, engine := range []string{EngineRspamd, EngineClamd, EngineSpamd} {
		t.Run(engine, func(t *testing.T) {
			s := scanner(t, engine)
			d := daemon(t, engine)
			// A first scan, so rspamd's connection is kept alive.
			if _, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody)); err != nil {
				t.Fatal(err)
			}
			g := newGated(mail("minutes", strings.Repeat(plainBody+"\r\n", 2000)))
			done := make(chan error, 1)
			go func() {
				_, err := s.Scan(context.Background(), testEnv, g)
				done <- err
			}()
			select {
			case <-g.half:
			case err := <-done:
				t.Fatalf("scan ended before half the message: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the scan never started sending")
			}
			d.Kill()
			close(g.release)
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the scan did not end after the daemon died")
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("killed mid-scan: %v, want ErrUnreachable", err)
			}
			var se *Error
			if !errors.As(err, &se) || se.Scanner != "test-"+engine || se.Engine != engine {
				t.Fatalf("error %#v does not name the scanner", err)
			}
			_, err = s.Scan(context.Background(), testEnv, mail("minutes", plainBody))
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("daemon down: %v, want ErrUnreachable", err)
			}
			if err := d.Restart(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s restarted in %s", engine, d.Startup)
			if _, err := s.Scan(context.Background(), testEnv, mail("minutes", plainBody)); err != nil {
				t.Fatalf("after restart: %v", err)
			}
		})
	}
}
