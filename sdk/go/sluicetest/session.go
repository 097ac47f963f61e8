package sluicetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-mail/sluice/gateway/contract"
	"github.com/sluice-mail/sluice/gateway/dkimsign"
	"github.com/sluice-mail/sluice/gateway/filter"
	"github.com/sluice-mail/sluice/gateway/kv"
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

// filterPhase is the gateway's phase for p (not PhaseConfigure).
func (p Phase) filterPhase() filter.Phase { return filter.Phase(p - PhaseConnect) }

// LogLine is one line a plugin logged.
type LogLine struct {
	Level sluice.LogLevel
	Text  string
}

// Session is an emulated host with one SMTP session in it: the gateway's
// own filter.Session and filter.State, changed only through the plugin
// contract the gateway enforces (gateway/contract). It is not safe for
// concurrent use. The zero value is not usable: call New.
type Session struct {
	config     []byte
	pluginName string

	phase Phase
	sess  *filter.Session
	st    *filter.State // the current transaction (SetEnvelope, Mail)

	logs    []LogLine
	effects []string

	kv      *kv.Memory // the key/value store (kv.go), namespace pluginName
	kvQuota int64      // the plugin's quota in bytes
	kvDown  bool       // SetKVDown: every KV call fails with ErrTemporary
	clock   time.Time  // the store's fake clock

	dns     map[string]map[string][]string // name -> type -> records (dns.go)
	dnsTemp map[string]bool                // names that fail with TEMPERROR

	dkimKeys map[string]*dkimsign.Key // granted DKIM keys by name (auth.go)
	grants   map[string]bool          // capabilities (grants.go)

	scans map[string]*cannedScan // granted scanners by name (scan.go)
}

// New returns a session in which a client 192.0.2.1 port 49152 connected
// to mx.example.test, without TLS, for a plugin named "test" whose
// configuration is "{}". Change any of it with SetInfo, DeleteInfo and
// SetConfig.
func New() *Session {
	s := &Session{
		config:     []byte("{}"),
		pluginName: "test",
		sess: &filter.Session{
			ID:         "test-session",
			ClientIP:   netip.MustParseAddr("192.0.2.1"),
			ClientPort: 49152,
			Hostname:   "mx.example.test",
			Tags:       filter.Tags{},
		},
		kvQuota:  abi.KVDefaultQuota,
		clock:    kvEpoch,
		dns:      map[string]map[string][]string{},
		dnsTemp:  map[string]bool{},
		dkimKeys: map[string]*dkimsign.Key{},
		grants:   defaultGrants(),
	}
	s.kv = s.newKV()
	s.kv.SetQuota(s.pluginName, s.kvQuota)
	s.SetEnvelope("")
	return s
}

// SetConfig sets the JSON the plugin reads with Host.Config.
func (s *Session) SetConfig(json string) { s.config = []byte(json) }

// SetConfigValue sets the configuration to v marshalled as compact JSON,
// without HTML escaping, as the gateway hands a policy's config to a plugin
// (sdk/ABI.md §4.1.1); it panics if v cannot be marshalled.
func (s *Session) SetConfigValue(v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("sluicetest: SetConfigValue: " + err.Error())
	}
	s.config = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// SetInfo sets an Info value (for example sluice.InfoClientName or
// sluice.InfoTLS) in the session the gateway would have. Values are
// visible from the phase the ABI names for their key on. The phase methods
// set helo and rcpt; mail.from is always the current sender (SetEnvelope,
// Mail, SetMailFrom). It panics for a key the gateway does not have, or a
// client.ip or client.port that does not parse.
func (s *Session) SetInfo(key, value string) {
	switch key {
	case sluice.InfoClientIP:
		ip, err := netip.ParseAddr(value)
		if err != nil {
			panic("sluicetest: SetInfo: " + err.Error())
		}
		s.sess.ClientIP = ip
	case sluice.InfoClientPort:
		n, err := strconv.Atoi(value)
		if err != nil {
			panic("sluicetest: SetInfo: " + err.Error())
		}
		s.sess.ClientPort = n
	default:
		f := s.infoText()[key]
		if f == nil {
			panic(fmt.Sprintf("sluicetest: SetInfo: the gateway has no info key %q", key))
		}
		*f = value
	}
}

// infoText maps the text info keys to where the gateway keeps them.
func (s *Session) infoText() map[string]*string {
	return map[string]*string{
		sluice.InfoSessionID: &s.sess.ID, sluice.InfoClientName: &s.sess.ClientName,
		sluice.InfoHelo: &s.sess.Helo, sluice.InfoTLS: &s.sess.TLSVersion,
		sluice.InfoTLSCipher: &s.sess.TLSCipher, sluice.InfoHostname: &s.sess.Hostname,
		sluice.InfoPlugin: &s.pluginName, sluice.InfoMailFrom: &s.st.From,
		sluice.InfoMailParams: &s.st.MailParams, sluice.InfoRcpt: &s.st.Rcpt,
		sluice.InfoRcptParams: &s.st.RcptParams,
	}
}

// DeleteInfo empties an Info value. Info then reports the optional keys
// (client.ip, client.name, tls, tls.cipher) as not found; the others are
// always there in the gateway, and read as empty (client.port as 0).
func (s *Session) DeleteInfo(key string) {
	if key == sluice.InfoClientIP {
		s.sess.ClientIP = netip.Addr{}
		return
	}
	if key == sluice.InfoClientPort {
		s.sess.ClientPort = 0
		return
	}
	s.SetInfo(key, "")
}

// SetEnvelope starts a transaction with this sender and these already
// accepted recipients without calling any hook, as if earlier plugins had
// run. Transaction tags and the message are cleared.
func (s *Session) SetEnvelope(from string, rcpts ...string) {
	s.st = filter.NewState(s.sess)
	s.st.From = from
	s.st.Rcpts = slices.Clone(rcpts)
	s.st.Msg = &message.Message{}
}

// SetMessage sets the message the data phase sees, parsed as the gateway
// parses it (header fields with folding and duplicates kept, then the body).
// A bare LF in raw is turned into CRLF so tests can be written with "\n".
func (s *Session) SetMessage(raw []byte) error {
	m, err := message.Parse(crlf(raw), message.Limits{})
	if err != nil {
		return err
	}
	s.st.Msg = m
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
func (s *Session) Message() []byte { return bytes.Clone(s.st.Msg.Bytes()) }

// Body returns the current body.
func (s *Session) Body() []byte { return bytes.Clone(s.st.Msg.Body) }

// HeaderValues returns the values of every field named name
// (case-insensitive), in order.
func (s *Session) HeaderValues(name string) []string {
	var out []string
	for _, f := range s.st.Msg.Fields {
		if bytesEqualFold(f.Name, name) {
			out = append(out, string(f.Value()))
		}
	}
	return out
}

func bytesEqualFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// MailFrom returns the current reverse path ("" for the null sender).
func (s *Session) MailFrom() string { return s.st.From }

// Rcpts returns the accepted recipients.
func (s *Session) Rcpts() []string { return slices.Clone(s.st.Rcpts) }

// Tags returns every tag, transaction tags shadowing session tags.
func (s *Session) Tags() map[string]string {
	out := map[string]string(s.sess.Tags.Clone())
	maps.Copy(out, s.st.Tags)
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

// contractPlugin is what the contract knows of the plugin under test.
func (s *Session) contractPlugin() *contract.Plugin {
	keys, _ := s.dkimKeyList()
	s.kv.SetQuota(s.pluginName, s.kvQuota) // the name may have changed (SetInfo)
	return &contract.Plugin{Name: s.pluginName, DKIMKeys: keys, KV: s.kv}
}
