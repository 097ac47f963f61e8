package policy

import (
	"crypto/sha256"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Policy is one decoded policy file.
type Policy struct {
	// File is the absolute path of the policy file. Diagnostics use the
	// file name exactly as it was given to Load or Parse.
	File     string
	Listen   Listen
	Upstream Upstream
	// Milter is the optional `milter` block (milter mode); nil when absent.
	Milter *Milter
	// NoListen is set for a policy with a milter block and no listen
	// block: no SMTP listener is opened and no upstream is needed; Listen
	// then holds the defaults, whose message limits milter mode applies.
	NoListen bool
	// Resolver is the optional `resolver` block: the DNS servers behind
	// the plugins' "dns" grant.
	Resolver Resolver
	// KV is the optional `kv` block: the key/value store's file.
	KV KV
	// Console is the optional `console` block: the admin console's
	// settings, read at start-up.
	Console Console
	// DKIMKeys are the `dkim_key` blocks in declaration order.
	DKIMKeys []DKIMKey
	// Scanners are the `scanner` blocks in declaration order.
	Scanners []Scanner
	// Plugins are in declaration order, which is chain order.
	Plugins []Plugin
	// Hash is the SHA-256 of the policy source, so that a reload can tell an
	// unchanged file from a changed one. It does not cover env() values or
	// the contents of referenced files.
	Hash [32]byte
}

// Listen is the SMTP listener: the `listen` block.
type Listen struct {
	Address  string // host:port; host may be empty for every address
	Hostname string // our name in the greeting and EHLO reply; default os.Hostname()

	MaxMessageSize      int64 // bytes, advertised with SIZE (RFC 1870)
	MaxRecipients       int
	MaxLineLength       int // bytes, including CRLF, of a command or message line
	MaxHeaderSize       int // bytes of the whole header section
	MaxHeaderFields     int
	MaxConnections      int
	MaxConnectionsPerIP int

	CommandTimeout time.Duration // each whole command line
	DataTimeout    time.Duration // the whole message after 354
	GreetDelay     time.Duration

	// JunkCommandLimit and HardErrorLimit bound a session that delivers no
	// mail (Postfix's smtpd_junk_command_limit and smtpd_hard_error_limit).
	JunkCommandLimit int
	HardErrorLimit   int

	BareLF      string // BareLFNormalize or BareLFReject
	EarlyTalker string // EarlyTalkerReject or EarlyTalkerIgnore

	TLS *TLS // nil when there is no tls block (no STARTTLS)

	// XForwardPeers are the networks allowed to send XFORWARD (Postfix's
	// smtpd_proxy_filter in front of Sluice); addresses are normalized to
	// their network. Empty: nobody.
	XForwardPeers []netip.Prefix

	// ProxyProtocol makes the listener expect a PROXY protocol header (v1
	// or v2, HAProxy's proxy-protocol.txt) at the start of every
	// connection, from a load balancer in ProxyTrusted; the address in the
	// header becomes the client's. A connection from anywhere else, or one
	// whose header is missing, malformed or late, is dropped.
	ProxyProtocol bool
	// ProxyTrusted are the load balancers' networks, normalized like
	// XForwardPeers. Required with ProxyProtocol.
	ProxyTrusted []netip.Prefix

	Range hcl.Range // the `listen` block header
	// Ranges are the attributes set in the block, by name, and "tls" (the
	// tls block) and "tls.NAME" (its attributes): where a reload reports a
	// setting it cannot apply to the running listener.
	Ranges map[string]hcl.Range
}

// TLS is the listener's certificate for STARTTLS (RFC 3207).
type TLS struct {
	CertFile   string // absolute path
	KeyFile    string // absolute path
	MinVersion string // "1.2" or "1.3"
}

// Upstream is where accepted mail goes: an SMTP server or a local Maildir.
// Exactly one of Address and Maildir is set.
type Upstream struct {
	Address string // host:port of the downstream MTA
	Maildir string // absolute path of a Maildir (development mode)
	Helo    string // name we send in EHLO downstream; default Listen.Hostname

	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	DataTimeout    time.Duration

	// XClient passes each client's identity to the downstream with XCLIENT
	// (MX-front mode); XForward passes it with XFORWARD (logging only,
	// behind smtpd_proxy_filter). Both need an SMTP address.
	XClient  bool
	XForward bool

	// TLS is the STARTTLS policy toward the downstream (RFC 3207):
	// UpstreamTLSNone (the default), UpstreamTLSOpportunistic or
	// UpstreamTLSRequired.
	TLS string
	// TLSCAFile is the absolute path of the PEM file of the certificate
	// authorities that verify the downstream's certificate under
	// UpstreamTLSRequired; "" means the system's roots.
	TLSCAFile string
	// TLSServerName is the name the downstream's certificate must carry
	// (and the SNI sent); "" means the host of Address.
	TLSServerName string
	// TLSCAFileRange is the tls_ca_file attribute, to report a CA file that
	// cannot be read; empty when the attribute is absent.
	TLSCAFileRange hcl.Range

	Range hcl.Range // the `upstream` block header
}

// Plugin is one `plugin "NAME"` block.
type Plugin struct {
	Name string
	Wasm string // absolute path of the .wasm file

	// Config is the plugin's configuration as JSON; "{}" when absent.
	Config []byte

	Timeout time.Duration // per call
	Memory  uint64        // bytes of linear memory the plugin may use
	OnError string        // OnErrorTempfail, OnErrorContinue or OnErrorReject
	Grants  []string      // capability names, validated by the host
	// KVQuota is the bytes the plugin's key/value namespace may take
	// (kv_quota, grant "kv"; sdk/ABI.md §4.8).
	KVQuota int64

	// The circuit breaker: after BreakerThreshold faults in a row of
	// distinct messages, or when BreakerFaultRate of the last BreakerWindow
	// distinct messages faulted (a message's retries count once), the
	// plugin is not called for BreakerBackoff, doubling up to
	// BreakerMaxBackoff (0 threshold = no breaker).
	BreakerThreshold  int
	BreakerWindow     int
	BreakerFaultRate  float64
	BreakerBackoff    time.Duration
	BreakerMaxBackoff time.Duration

	// InitTimeout bounds the plugin's start-up at load: instantiation,
	// _initialize and sluice_configure together.
	InitTimeout time.Duration

	// DefRange is the `plugin "NAME"` header: report plugin-level problems
	// (compile errors, missing exports, ABI version) here.
	DefRange hcl.Range
	// WasmRange, ConfigRange and GrantsRange are the attributes' ranges;
	// ConfigRange and GrantsRange are empty when the attribute is absent.
	WasmRange   hcl.Range
	ConfigRange hcl.Range
	GrantsRange hcl.Range
}

// Values of Plugin.OnError.
const (
	OnErrorTempfail = "tempfail"
	OnErrorContinue = "continue"
	OnErrorReject   = "reject"
)

// Values of Upstream.TLS, named like Postfix's smtp_tls_security_level.
const (
	// UpstreamTLSNone never sends STARTTLS.
	UpstreamTLSNone = "none"
	// UpstreamTLSOpportunistic uses STARTTLS when the downstream offers it,
	// without verifying its certificate, and falls back to plaintext when
	// the handshake fails (Postfix's "may").
	UpstreamTLSOpportunistic = "opportunistic"
	// UpstreamTLSRequired uses STARTTLS and verifies the certificate, or
	// sends nothing: the client gets 451 4.7.x (Postfix's "secure").
	UpstreamTLSRequired = "required"
)

// Values of Listen.BareLF: what to do with a line ending in LF without CR
// (RFC 5321 §2.3.8 allows only CRLF).
const (
	BareLFNormalize = "normalize"
	BareLFReject    = "reject"
)

// Values of Listen.EarlyTalker: what to do with a client that sends before
// our greeting (RFC 5321 §4.3.1: the client must wait for the 220).
const (
	EarlyTalkerReject = "reject"
	EarlyTalkerIgnore = "ignore"
)

// Load reads and decodes the policy file at path. A file that cannot be read
// is reported as an error diagnostic.
func Load(path string) (*Policy, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{Error(path, nil, "Cannot read policy", readError(err))}
	}
	return Parse(src, path)
}

// Parse decodes a policy from src. filename is used in diagnostics and as the
// base for relative paths (wasm, maildir, TLS files).
//
// The returned diagnostics are sorted by position. When they contain an
// error, the Policy is incomplete (invalid values are left at their defaults)
// and must not be served; it is returned only so that tools can report more
// problems, for example by compiling the plugins that did decode. Parse
// returns a nil Policy only when the file is not valid HCL syntax.
func Parse(src []byte, filename string) (*Policy, hcl.Diagnostics) {
	p, diags := decodeFile(src, filename)
	sortDiagnostics(diags)
	if p != nil {
		p.Hash = sha256.Sum256(src)
	}
	return p, diags
}

// absFile is the absolute form of the policy file name, or the cleaned name
// when the working directory is unknown.
func absFile(filename string) string {
	if abs, err := filepath.Abs(filename); err == nil {
		return abs
	}
	return filepath.Clean(filename)
}

// readError describes a read failure without repeating the path, which the
// diagnostic already carries.
func readError(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
