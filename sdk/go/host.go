package sluice

import (
	"math"
	"time"

	"github.com/sluice-mail/sluice/sdk/abi"
)

// Host is what a hook can see and change: the host functions of sdk/ABI.md §4
// behind Go types. Methods that read return ok=false for the ABI's NOT_FOUND
// (no such item, or not available in this phase). Every other misuse (an
// invalid header name or value, an invalid address, a mutation in the wrong
// phase, an invalid reply) is not an error value: the host stops the hook and
// handles it as a plugin error (ABI §5), discarding every change of the call.
//
// Strings are byte strings: header values, addresses and tags are not
// guaranteed to be UTF-8.
type Host interface {
	// Log writes msg to the gateway log with the plugin's name, phase and
	// session id (ABI §4.1). Text beyond 4096 bytes is cut.
	Log(level LogLevel, msg string)
	// Config returns the plugin's configuration from the policy as JSON;
	// "{}" when the policy sets none. See DecodeConfig.
	Config() []byte
	// Info returns session and envelope information by key (the Info*
	// constants, ABI §4.2).
	Info(key string) (string, bool)

	// Tag returns a tag set by this or an earlier plugin (ABI §4.3).
	Tag(key string) (string, bool)
	// SetTag sets a tag: keys are 1 to 64 bytes of [A-Za-z0-9_.-], values at
	// most 1024 bytes without CR, LF or NUL. Tags set at connect or helo
	// belong to the session, later ones to the transaction.
	SetTag(key, value string)

	// KVGet returns the value of key in the plugin's key/value store (ABI
	// §4.8). The KV methods need grants = ["kv"] in the plugin's policy
	// block; they work in every phase and in Configure. Keys are 1 to 256
	// bytes, values at most 64 KiB. Writes are not undone when the hook
	// later fails. Every KV method returns ErrTemporary when the store
	// could not answer now (a shared Redis that is down or slow, ABI
	// §4.8): nothing is known, and the plugin decides (tempfail or go on).
	KVGet(key string) ([]byte, bool, error)
	// KVSet stores val under key for ttl (0: no expiry; see TTLMillis).
	// The error is ErrQuota when that would take the plugin's store past
	// its quota (kv_quota in the policy, default 64 MiB, ABI §4.8); nothing
	// was written. Or ErrTemporary.
	KVSet(key string, val []byte, ttl time.Duration) error
	// KVIncr atomically adds delta to the decimal counter under key and
	// returns the new value, saturated to the int32 range. A missing key
	// starts at 0 and expires after ttl; an existing key keeps its expiry.
	// The error is ErrQuota when a missing key cannot be created within
	// the quota; incrementing an existing key fails only with
	// ErrTemporary.
	KVIncr(key string, delta int32, ttl time.Duration) (int32, error)
	// KVDelete removes key and reports whether it was present.
	KVDelete(key string) (bool, error)

	// DNSLookup returns the records of type qtype (A, AAAA, TXT, MX, PTR,
	// NS or CNAME, case-insensitive; any other stops the hook) for name
	// through the gateway's resolver (ABI §4.9). It needs grants = ["dns"]
	// and works in every phase. The error is ErrNotFound when the name does
	// not exist or has no such record, ErrTemporary on a timeout or server
	// failure. Records are text: an address for A/AAAA, the strings of one
	// record concatenated for TXT, "preference host" for MX, a name else.
	DNSLookup(qtype, name string) ([]string, error)

	// CheckAuth has the host evaluate SPF, DKIM and DMARC (ABI §4.11; needs
	// grants = ["dns"]). SPF works from phase mail, DKIM and DMARC in phase
	// data; ok is false when a check is asked for too early. DNS failures
	// are temperror results, not errors.
	CheckAuth(checks AuthChecks) (*AuthResult, bool)
	// DKIMKeys lists the DKIM keys the policy lets this plugin sign with
	// (grants = ["dkim:NAME"], ABI §4.10).
	DKIMKeys() []DKIMKey
	// SignDKIM has the host sign the message as it is now with key name and
	// insert the DKIM-Signature field at the top (phase data). The error is
	// a *DKIMRefusal when the message cannot be signed. A name that was not
	// granted stops the hook.
	SignDKIM(name string, opts DKIMOptions) error

	// Scan has the host send the message as it is now to the content
	// scanner name (phase data; needs grants = ["scan:NAME"] and a scanner
	// block, ABI §4.12). The error is ErrNotFound outside phase data, and a
	// *ScanError (an ErrTemporary) when the scanner was unreachable, timed
	// out or answered garbage: decide whether to tempfail, never pass the
	// message as scanned. A name that was not granted stops the hook.
	Scan(name string) (*ScanResult, error)
	// ScanValue returns one member of the last Scan result of this hook
	// call by its ABI §4.12 key ("symbols.NAME.options", ...).
	ScanValue(key string) (string, bool)

	// RcptCount is the number of recipients accepted so far in this
	// transaction; at rcpt the recipient being checked is not counted.
	RcptCount() int
	// Rcpt returns accepted recipient i (0-based).
	Rcpt(i int) (string, bool)
	// SetMailFrom changes the reverse path ("" is the null sender); phases
	// mail and data. The envelope methods need grants = ["envelope"] in the
	// plugin's policy block (ABI §4.6).
	SetMailFrom(addr string)
	// AddRcpt adds a recipient; phase data.
	AddRcpt(addr string)
	// RemoveRcpt removes a recipient, compared case-insensitively; phase
	// data. It reports false if the recipient was not there. Removing the
	// last recipient is a plugin error: return VerdictDiscard instead.
	RemoveRcpt(addr string) bool

	// HeaderCount is the number of header fields; 0 outside phase data.
	HeaderCount() int
	// HeaderName returns the name of field i as written.
	HeaderName(i int) (string, bool)
	// HeaderValue returns the value of field i: the bytes after the colon
	// without one leading space and the final CRLF; folded values keep their
	// CRLF WSP sequences (ABI §4.4).
	HeaderValue(i int) (string, bool)
	// FindHeader returns the index of the nth (0-based) field named name,
	// compared case-insensitively.
	FindHeader(name string, nth int) (int, bool)
	// AddHeader appends a field at the end of the header.
	AddHeader(name, value string)
	// InsertHeader inserts a field before position i (0 = top,
	// HeaderCount() = end); false if i is out of range.
	InsertHeader(i int, name, value string) bool
	// ChangeHeader replaces the value of field i; false if out of range.
	ChangeHeader(i int, value string) bool
	// DeleteHeader removes field i; false if out of range.
	DeleteHeader(i int) bool

	// BodySize is the size of the body in bytes; 0 outside phase data.
	BodySize() int
	// BodyReadAt reads the body like io.ReaderAt: it fills p from offset off
	// and returns io.EOF when fewer than len(p) bytes remain. The host copies
	// straight into p. Body(h) wraps it as an io.Reader.
	BodyReadAt(p []byte, off int64) (int, error)
	// ReplaceBody replaces the body (CRLF line endings, lines at most 998
	// bytes, no NUL; checked when the hook returns).
	ReplaceBody(b []byte)
	// AppendBody appends to the body.
	AppendBody(b []byte)

	// SetReply sets the reply used when the hook returns VerdictReject (5xx)
	// or VerdictTempfail (4xx): code 400 to 599, enhanced "" (the host picks
	// X.0.0) or class.subject.detail with the class of code, text 1 to 400
	// bytes of printable ASCII. The last call wins. See Reject, Tempfail and
	// Refuse.
	SetReply(code int, enhanced, text string)
}

// LogLevel is the level of a log line.
type LogLevel int32

// Log levels (ABI §4.1).
const (
	LevelDebug = LogLevel(abi.LogDebug)
	LevelInfo  = LogLevel(abi.LogInfo)
	LevelWarn  = LogLevel(abi.LogWarn)
	LevelError = LogLevel(abi.LogError)
)

// Keys for Host.Info (ABI §4.2). The phase named after each key is the first
// one where it is available.
const (
	InfoSessionID  = abi.InfoSessionID  // connect: session id used in the logs
	InfoClientIP   = abi.InfoClientIP   // connect: "192.0.2.1", "2001:db8::1"
	InfoClientPort = abi.InfoClientPort // connect: decimal TCP port
	InfoClientName = abi.InfoClientName // connect: verified PTR name, if any
	InfoHelo       = abi.InfoHelo       // helo: the HELO/EHLO argument
	InfoTLS        = abi.InfoTLS        // connect: "TLS1.3" when encrypted
	InfoTLSCipher  = abi.InfoTLSCipher  // connect: cipher suite when encrypted
	InfoHostname   = abi.InfoHostname   // connect: the listener's hostname
	InfoPhase      = abi.InfoPhase      // connect: "connect", "helo", "mail", "rcpt" or "data"
	InfoPlugin     = abi.InfoPlugin     // connect: the plugin's name in the policy
	InfoMailFrom   = abi.InfoMailFrom   // mail: reverse path, "" for the null sender
	InfoMailParams = abi.InfoMailParams // mail: ESMTP parameters of MAIL
	InfoRcpt       = abi.InfoRcpt       // rcpt only: the recipient being checked
	InfoRcptParams = abi.InfoRcptParams // rcpt only: ESMTP parameters of RCPT
	InfoDKIMKeys   = abi.InfoDKIMKeys   // connect: granted DKIM keys, see Host.DKIMKeys
	InfoQueueID    = abi.InfoQueueID    // mail: the MTA's queue id (milter mode only)
	InfoAuthUser   = abi.InfoAuthUser   // mail: SASL login name when the client authenticated (milter mode)
)

// Grants a policy gives a plugin with grants = [...] (ABI §4.6, §4.8,
// §4.9); a module that uses a host function without its grant does not load.
const (
	GrantKV       = abi.GrantKV       // KVGet, KVSet, KVIncr, KVDelete
	GrantDNS      = abi.GrantDNS      // DNSLookup, CheckAuth
	GrantEnvelope = abi.GrantEnvelope // SetMailFrom, AddRcpt, RemoveRcpt
	// GrantScanPrefix followed by a scanner block's name: Scan, ScanValue.
	GrantScanPrefix = abi.GrantScanPrefix
)

// TTLMillis converts a key/value lifetime to the ABI's ttl_ms (ABI §4.8):
// 0 or less means no expiry, a positive lifetime below a millisecond rounds
// up to 1 ms, and lifetimes beyond math.MaxInt32 ms (about 24.8 days) are
// capped there.
func TTLMillis(ttl time.Duration) int32 {
	if ttl <= 0 {
		return 0
	}
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	return int32(min(ms, math.MaxInt32))
}
