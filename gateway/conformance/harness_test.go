package conformance

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/gateway/smtp"
	"github.com/sluice-mail/sluice/gateway/wasmhost"
)

// allLangs are the languages of sdk/CONFORMANCE.md, each with an example
// filter and a probe.
var allLangs = []string{"go", "rust", "c", "assemblyscript", "wat"}

// binDir is the repository's bin directory, seen from this package.
const binDir = "../../bin"

// callTimeout bounds each hook call. It is generous on purpose: the suite
// checks behaviour, not speed, and must not flake on a loaded machine or
// under the race detector (the 10 MiB body is hashed byte by byte).
const callTimeout = 10 * time.Second

// lang is one language's two modules.
type lang struct {
	name    string
	example []byte // bin/examples/<lang>.wasm
	probe   []byte // bin/conformance/<lang>.wasm
}

// langNames parses SLUICE_CONFORMANCE_LANGS: empty means all languages.
func langNames(env string) ([]string, error) {
	if strings.TrimSpace(env) == "" {
		return allLangs, nil
	}
	var out []string
	for _, n := range strings.Split(env, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(allLangs, n) {
			return nil, fmt.Errorf("SLUICE_CONFORMANCE_LANGS: unknown language %q (known: %s)", n, strings.Join(allLangs, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// langsToTest returns the languages to test (SLUICE_CONFORMANCE_LANGS,
// default all).
func langsToTest(tb testing.TB) []string {
	tb.Helper()
	names, err := langNames(os.Getenv("SLUICE_CONFORMANCE_LANGS"))
	if err != nil {
		tb.Fatal(err)
	}
	return names
}

// readLang reads a language's two modules. A missing module fails the
// caller: the suite never skips a language.
func readLang(tb testing.TB, name string) lang {
	tb.Helper()
	l := lang{name: name}
	for _, m := range []struct {
		dir string
		dst *[]byte
	}{{"examples", &l.example}, {"conformance", &l.probe}} {
		path := filepath.Join(binDir, m.dir, name+".wasm")
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("%s: %v: run make examples probes", path, err)
		}
		*m.dst = b
	}
	return l
}

func newEngine(tb testing.TB) *wasmhost.Engine {
	tb.Helper()
	e, err := wasmhost.NewEngine(context.Background(), wasmhost.EngineOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// load loads a module with the suite's timeout (unless s sets one) and
// closes it when the test ends.
func load(tb testing.TB, e *wasmhost.Engine, wasm []byte, s wasmhost.Spec) *wasmhost.Plugin {
	tb.Helper()
	s.Wasm = wasm
	if s.Name == "" {
		s.Name = "probe"
	}
	if s.Timeout == 0 {
		s.Timeout = callTimeout
	}
	p, err := e.Load(context.Background(), s)
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	tb.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// chainOf is a chain of plugins, each named after its plugin.
func chainOf(entries ...filter.Entry) *filter.Chain {
	return &filter.Chain{Entries: entries}
}

func entry(p plugin, onError filter.OnError) filter.Entry {
	return filter.Entry{Name: p.Name(), Plugin: p, OnError: onError}
}

// Session values the probe reports back.
const (
	clientIP = "192.0.2.1"
	heloName = "client.example"
)

func newSession() *filter.Session {
	return &filter.Session{
		ID:         "conformance-1",
		ClientIP:   netip.MustParseAddr(clientIP),
		ClientPort: 4242,
		Helo:       heloName,
		Hostname:   "mx.example",
	}
}

// session drives one SMTP session through a chain the way gateway/bridge
// does: connect and helo get their own state, a transaction's state lives
// from MAIL to the end of DATA.
type session struct {
	tb    testing.TB
	chain *filter.Chain
	sess  *filter.Session
	st    *filter.State // the transaction, from mail on
}

func newSessionRun(tb testing.TB, c *filter.Chain) *session {
	return &session{tb: tb, chain: c, sess: newSession()}
}

func (s *session) run(st *filter.State) filter.Outcome {
	return s.chain.Run(context.Background(), st)
}

func (s *session) connect() filter.Outcome {
	st := filter.NewState(s.sess)
	st.Phase = filter.Connect
	return s.run(st)
}

func (s *session) helo() filter.Outcome {
	st := filter.NewState(s.sess)
	st.Phase = filter.Helo
	return s.run(st)
}

// mail starts a transaction.
func (s *session) mail(from string) filter.Outcome {
	s.st = filter.NewState(s.sess)
	s.st.Phase, s.st.From = filter.Mail, from
	return s.run(s.st)
}

// rcpt checks a recipient and adds it unless it was refused.
func (s *session) rcpt(to string) filter.Outcome {
	st := s.st
	st.Phase, st.Rcpt = filter.Rcpt, to
	out := s.run(st)
	st.Rcpt = ""
	if out.Verdict != filter.Reject && out.Verdict != filter.Tempfail {
		st.Rcpts = append(st.Rcpts, to)
	}
	return out
}

// data runs the data phase on raw (CRLF line endings).
func (s *session) data(raw []byte) filter.Outcome {
	s.tb.Helper()
	m, err := message.Parse(raw, message.Limits{})
	if err != nil {
		s.tb.Fatalf("message.Parse: %v", err)
	}
	s.st.Msg, s.st.Phase = m, filter.Data
	return s.run(s.st)
}

// dataOnly runs just the data phase of a transaction from
// alice@example.org to bob@example.net, as if mail and rcpt had passed.
func dataOnly(tb testing.TB, c *filter.Chain, raw []byte) (*filter.State, filter.Outcome) {
	tb.Helper()
	s := newSessionRun(tb, c)
	s.st = filter.NewState(s.sess)
	s.st.From, s.st.Rcpts = "alice@example.org", []string{"bob@example.net"}
	out := s.data(raw)
	return s.st, out
}

// replyString renders a reply as "550 5.7.1 text", "" for none.
func replyString(r *smtp.Reply) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, strings.Join(r.Lines, "\n"))
}

// expect checks an outcome's verdict and reply; a mismatch lists the plugin
// errors of the run. (With on_error tempfail, the suite's default, a plugin
// error never passes for another verdict.)
func expect(tb testing.TB, what string, out filter.Outcome, v filter.Verdict, reply string) {
	tb.Helper()
	if out.Verdict != v || replyString(out.Reply) != reply {
		tb.Errorf("%s: verdict %v, reply %q; want %v, %q%s", what, out.Verdict, replyString(out.Reply), v, reply, stepErrors(out))
	}
}

// noErrors fails when a plugin call in out was a plugin error.
func noErrors(tb testing.TB, what string, out filter.Outcome) {
	tb.Helper()
	if s := stepErrors(out); s != "" {
		tb.Errorf("%s: unexpected plugin error%s", what, s)
	}
}

func stepErrors(out filter.Outcome) string {
	var b strings.Builder
	for _, s := range out.Steps {
		if s.Err != nil {
			fmt.Fprintf(&b, "\n\t%s at %s: %v", s.Plugin, s.Phase, s.Err)
		}
	}
	return b.String()
}

// expectTags compares a tag set exactly.
func expectTags(tb testing.TB, what string, got, want filter.Tags) {
	tb.Helper()
	if len(got) == len(want) {
		same := true
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				same = false
			}
		}
		if same {
			return
		}
	}
	tb.Errorf("%s: tags\n\tgot  %s\n\twant %s", what, tagsString(got), tagsString(want))
}

func tagsString(t filter.Tags) string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q ", k, t[k])
	}
	return b.String()
}

// fnvHex is FNV-1a 32 of the concatenated parts, as 8 lowercase hex digits
// (sdk/CONFORMANCE.md §2), computed with the standard library.
func fnvHex(parts ...[]byte) string {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write(p)
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

// field is a header field of a test message: its raw lines and what the
// host must show for it, spelled out by hand rather than derived from the
// parser.
type field struct {
	raw, name, value string
}

// messageOf builds a raw message from fields and body.
func messageOf(fields []field, body string) []byte {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.raw)
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// probeDataTags are the tags the probe's data hook must set for a message
// with these fields and body and a plugin with this config (nil = {}).
func probeDataTags(fields []field, body, config []byte) filter.Tags {
	if config == nil {
		config = []byte("{}")
	}
	var hdr []byte
	var subjects []string
	for _, f := range fields {
		hdr = append(hdr, f.name+":"+f.value+"\n"...)
		if strings.EqualFold(f.name, "subject") {
			subjects = append(subjects, f.value)
		}
	}
	tags := filter.Tags{
		"probe.headers":      fnvHex(hdr),
		"probe.header.count": strconv.Itoa(len(fields)),
		"probe.body.len":     strconv.Itoa(len(body)),
		"probe.body.sum":     fnvHex(body),
		"probe.config.len":   strconv.Itoa(len(config)),
		"probe.config.sum":   fnvHex(config),
	}
	if len(subjects) > 1 {
		tags["probe.subject2"] = subjects[1]
	}
	return tags
}

// probeAdded is what the probe's data hook adds to a message without
// X-Probe-Delete, X-Probe-Change or X-Probe-Body: a field at the top and one
// at the end.
func probeAdded(l string, fields []field, body string) []byte {
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		body += "\r\n" // a changed message's body always ends in CRLF (message.WriteTo)
	}
	all := append([]field{{raw: "X-Probe-Top: 1\r\n"}}, fields...)
	all = append(all, field{raw: "X-Probe: " + l + "\r\n"})
	return messageOf(all, body)
}

// bodyOfSize returns a valid body of exactly n bytes: CRLF lines of 20 to
// 78 bytes of varied printable ASCII (the last one cut short, possibly
// without its CRLF).
func bodyOfSize(n int) []byte {
	const chars = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	ring := chars + chars
	b := make([]byte, 0, n+80)
	for line := 0; len(b) < n; line++ {
		start := line * 7 % len(chars)
		b = append(b, ring[start:start+20+line%59]...)
		b = append(b, '\r', '\n')
	}
	b = b[:n]
	if n > 0 && b[n-1] == '\r' {
		b[n-1] = '.' // no bare CR at the end
	}
	return b
}

// after is a plugin placed after the probe in a chain: it records that the
// chain went on and the tags it found.
type after struct {
	calls int
	tags  filter.Tags
}

func (a *after) Has(filter.Phase) bool { return true }

func (a *after) Call(_ context.Context, st *filter.State) (filter.Verdict, error) {
	a.calls++
	a.tags = st.Tags.Clone()
	return filter.Continue, nil
}
