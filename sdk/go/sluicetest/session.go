package sluicetest

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/message"
	"github.com/sluice-mail/sluice/sdk/abi"
	sluice "github.com/sluice-mail/sluice/sdk/go"
)

// Phase is an SMTP phase, or the configuration step before any.
type Phase int

// Phases in the order a session goes through them.
const (
	PhaseConfigure Phase = iota
	PhaseConnect
	PhaseHelo
	PhaseMail
	PhaseRcpt
	PhaseData
)

var phaseNames = [...]string{"configure", "connect", "helo", "mail", "rcpt", "data"}

func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseNames) {
		return "invalid"
	}
	return phaseNames[p]
}

// LogLine is one line a plugin logged.
type LogLine struct {
	Level sluice.LogLevel
	Text  string
}

// Session is an emulated host with one SMTP session in it. It is not safe for
// concurrent use. The zero value is not usable: call New.
type Session struct {
	config []byte
	info   map[string]string

	phase    Phase
	sessTags map[string]string // set at connect and helo
	tags     map[string]string // set later; cleared by Mail
	from     string
	rcpts    []string
	msg      *message.Message

	logs    []LogLine
	effects []string

	kv      map[string]*kvEntry // the plugin's key/value store (kv.go)
	kvDown  bool                // SetKVDown: every KV call fails with ErrTemporary
	kvQuota int64               // its quota in bytes
	clock   time.Time           // the store's fake clock

	dns     map[string]map[string][]string // name -> type -> records (dns.go)
	dnsTemp map[string]bool                // names that fail with TEMPERROR

	dkimKeys map[string]*dkimsign.Key // granted DKIM keys by name (auth.go)
	grants   map[string]bool          // capabilities (grants.go)
}

// New returns a session in which a client 192.0.2.1 port 49152 connected
// to mx.example.test, without TLS, for a plugin named "test" whose
// configuration is "{}". Change any of it with SetInfo, DeleteInfo and
// SetConfig.
func New() *Session {
	return &Session{
		config: []byte("{}"),
		info: map[string]string{
			sluice.InfoSessionID:  "test-session",
			sluice.InfoClientIP:   "192.0.2.1",
			sluice.InfoClientPort: "49152",
			sluice.InfoHostname:   "mx.example.test",
			sluice.InfoPlugin:     "test",
		},
		sessTags: map[string]string{},
		tags:     map[string]string{},
		msg:      &message.Message{},
		kv:       map[string]*kvEntry{},
		kvQuota:  abi.KVDefaultQuota,
		clock:    kvEpoch,
		dns:      map[string]map[string][]string{},
		dnsTemp:  map[string]bool{},
		dkimKeys: map[string]*dkimsign.Key{},
		grants:   defaultGrants(),
	}
}

// SetConfig sets the JSON the plugin reads with Host.Config.
func (s *Session) SetConfig(json string) { s.config = []byte(json) }

// SetConfigValue sets the configuration to v marshalled as JSON; it panics
// if v cannot be marshalled.
func (s *Session) SetConfigValue(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sluicetest: SetConfigValue: " + err.Error())
	}
	s.config = b
}

// SetInfo sets an Info value (for example sluice.InfoClientName or
// sluice.InfoTLS). Values are visible from the phase the ABI names for
// their key on. The phase methods set helo and rcpt; mail.from is always
// the current sender (SetEnvelope, Mail, SetMailFrom).
func (s *Session) SetInfo(key, value string) { s.info[key] = value }

// DeleteInfo removes an Info value, so Info reports it as not found.
func (s *Session) DeleteInfo(key string) { delete(s.info, key) }

// SetEnvelope starts a transaction with this sender and these already
// accepted recipients without calling any hook, as if earlier plugins had
// run. Transaction tags and the message are cleared.
func (s *Session) SetEnvelope(from string, rcpts ...string) {
	s.from = from
	s.rcpts = slices.Clone(rcpts)
	s.tags = map[string]string{}
	s.msg = &message.Message{}
}

// SetMessage sets the message the data phase sees, parsed as the gateway
// parses it (header fields with folding and duplicates kept, then the body).
// A bare LF in raw is turned into CRLF so tests can be written with "\n".
func (s *Session) SetMessage(raw []byte) error {
	m, err := message.Parse(crlf(raw), message.Limits{})
	if err != nil {
		return err
	}
	s.msg = m
	return nil
}

// crlf copies b with every LF not preceded by CR turned into CRLF.
func crlf(b []byte) []byte {
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte("\n")))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// Message returns the message as it would be forwarded now.
func (s *Session) Message() []byte { return bytes.Clone(s.msg.Bytes()) }

// Body returns the current body.
func (s *Session) Body() []byte { return bytes.Clone(s.msg.Body) }

// HeaderValues returns the values of every field named name
// (case-insensitive), in order.
func (s *Session) HeaderValues(name string) []string {
	var out []string
	for _, f := range s.msg.Fields {
		if bytesEqualFold(f.Name, name) {
			out = append(out, string(f.Value()))
		}
	}
	return out
}

func bytesEqualFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// MailFrom returns the current reverse path ("" for the null sender).
func (s *Session) MailFrom() string { return s.from }

// Rcpts returns the accepted recipients.
func (s *Session) Rcpts() []string { return slices.Clone(s.rcpts) }

// Tags returns every tag, transaction tags shadowing session tags.
func (s *Session) Tags() map[string]string {
	out := maps.Clone(s.sessTags)
	maps.Copy(out, s.tags)
	return out
}

// Logs returns every line the plugin logged, in order. Lines logged by a
// call that failed are kept, as the gateway keeps them.
func (s *Session) Logs() []LogLine { return slices.Clone(s.logs) }

// Effects returns the changes plugins made to tags, envelope and message
// during this session, one line per host call in the form
// `header_add "X-Tag" "yes"`. Changes of a call that failed are not listed:
// the host discarded them. Replies are in Result.Reply.
func (s *Session) Effects() []string { return slices.Clone(s.effects) }

// snapshot is the state a failed call rolls back to (ABI §5).
type snapshot struct {
	sessTags, tags map[string]string
	from           string
	rcpts          []string
	msg            *message.Message
	effects        int
}

func (s *Session) save() snapshot {
	return snapshot{
		sessTags: maps.Clone(s.sessTags),
		tags:     maps.Clone(s.tags),
		from:     s.from,
		rcpts:    slices.Clone(s.rcpts),
		msg:      s.msg.Clone(),
		effects:  len(s.effects),
	}
}

func (s *Session) restore(sn snapshot) {
	s.sessTags, s.tags, s.from, s.rcpts, s.msg = sn.sessTags, sn.tags, sn.from, sn.rcpts, sn.msg
	s.effects = s.effects[:sn.effects]
}
