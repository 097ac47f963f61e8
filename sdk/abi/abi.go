// Package abi holds the names and numbers of Sluice plugin ABI v1, defined once
// and shared by the host (gateway/wasmhost) and the Go SDK (sdk/go).
// sdk/ABI.md is the normative text; this file must agree with it.
package abi

// Version is the ABI version this host and SDK speak. A plugin exports it from
// sluice_abi_version.
const Version = 1

// ImportModule is the module name of every host function.
const ImportModule = "sluice"

// Exports a plugin may provide.
const (
	ExportMemory     = "memory"             // required
	ExportABIVersion = "sluice_abi_version" // required: () -> i32
	ExportConfigure  = "sluice_configure"   // optional: () -> i32, 0 = config accepted
	ExportHooks      = "sluice_hooks"       // optional: () -> i32, bit mask of the hooks to call
	ExportInitialize = "_initialize"        // optional: reactor initialisation, called once
	ExportStart      = "_start"             // refused unless _initialize is also exported
)

// Hook export names, one per phase; every hook is () -> i32 (a Verdict).
const (
	HookConnect = "sluice_on_connect"
	HookHelo    = "sluice_on_helo"
	HookMail    = "sluice_on_mail"
	HookRcpt    = "sluice_on_rcpt"
	HookData    = "sluice_on_data"
)

// Bits of the sluice_hooks mask, one per phase (1 << phase index).
const (
	HookBitConnect int32 = 1 << 0
	HookBitHelo    int32 = 1 << 1
	HookBitMail    int32 = 1 << 2
	HookBitRcpt    int32 = 1 << 3
	HookBitData    int32 = 1 << 4
)

// Verdicts returned by a hook. Any other value is a plugin error.
const (
	VerdictContinue   int32 = 0
	VerdictAccept     int32 = 1
	VerdictReject     int32 = 2
	VerdictTempfail   int32 = 3
	VerdictDiscard    int32 = 4
	VerdictQuarantine int32 = 5
)

// verdictNames are the verdicts' names, as logs and `sluice test` show them.
var verdictNames = [...]string{"continue", "accept", "reject", "tempfail", "discard", "quarantine"}

// VerdictName returns the name of verdict v, "invalid" for any other value.
func VerdictName(v int32) string {
	if v < 0 || int(v) >= len(verdictNames) {
		return "invalid"
	}
	return verdictNames[v]
}

// Result codes returned by host functions. Non-negative values are lengths,
// counts, indexes or 0 for success.
const (
	ErrNotFound int32 = -1 // no such item, or not available in this phase
	// ErrTemporary: a capability function could not answer now (DNS
	// timeout, SERVFAIL; a shared key/value store that is down or slow);
	// retrying later may succeed (sdk/ABI.md §4.8, §4.9).
	ErrTemporary int32 = -2
	// ErrRefused: the host declined the operation for a reason in the
	// plugin's control, written to the plugin's buffer (dkim_sign, §4.10).
	ErrRefused int32 = -3
	// ErrQuota: a key/value write would take the plugin's namespace past
	// its quota (kv_quota in the policy); nothing was written (§4.8).
	ErrQuota int32 = -4
)

// Log levels for the log import.
const (
	LogDebug int32 = 0
	LogInfo  int32 = 1
	LogWarn  int32 = 2
	LogError int32 = 3
)

// Host function names in module "sluice".
const (
	FnLog          = "log"           // (level, ptr, len)
	FnConfig       = "config"        // (buf, cap) -> len
	FnInfo         = "info"          // (key_ptr, key_len, buf, cap) -> len | ErrNotFound
	FnSetReply     = "set_reply"     // (code, enh_ptr, enh_len, text_ptr, text_len) -> 0
	FnTagGet       = "tag_get"       // (key_ptr, key_len, buf, cap) -> len | ErrNotFound
	FnTagSet       = "tag_set"       // (key_ptr, key_len, val_ptr, val_len) -> 0
	FnRcptCount    = "rcpt_count"    // () -> n
	FnRcptGet      = "rcpt_get"      // (index, buf, cap) -> len | ErrNotFound
	FnMailSet      = "mail_set"      // (ptr, len) -> 0; grant GrantEnvelope
	FnRcptAdd      = "rcpt_add"      // (ptr, len) -> 0; grant GrantEnvelope
	FnRcptRemove   = "rcpt_remove"   // (ptr, len) -> 0 | ErrNotFound; grant GrantEnvelope
	FnHeaderCount  = "header_count"  // () -> n | ErrNotFound
	FnHeaderName   = "header_name"   // (index, buf, cap) -> len | ErrNotFound
	FnHeaderValue  = "header_value"  // (index, buf, cap) -> len | ErrNotFound
	FnHeaderFind   = "header_find"   // (name_ptr, name_len, nth) -> index | ErrNotFound
	FnHeaderAdd    = "header_add"    // (name_ptr, name_len, val_ptr, val_len) -> 0
	FnHeaderInsert = "header_insert" // (index, name_ptr, name_len, val_ptr, val_len) -> 0 | ErrNotFound
	FnHeaderChange = "header_change" // (index, val_ptr, val_len) -> 0 | ErrNotFound
	FnHeaderDelete = "header_delete" // (index) -> 0 | ErrNotFound
	FnBodySize     = "body_size"     // () -> n | ErrNotFound
	FnBodyRead     = "body_read"     // (offset, buf, cap) -> n | ErrNotFound
	FnBodyReplace  = "body_replace"  // (ptr, len) -> 0
	FnBodyAppend   = "body_append"   // (ptr, len) -> 0

	// Key/value store, grant GrantKV (sdk/ABI.md §4.8).
	FnKVGet    = "kv_get"    // (key_ptr, key_len, buf, cap) -> len | ErrNotFound | ErrTemporary
	FnKVSet    = "kv_set"    // (key_ptr, key_len, val_ptr, val_len, ttl_ms) -> 0 | ErrQuota | ErrTemporary
	FnKVIncr   = "kv_incr"   // (key_ptr, key_len, delta, ttl_ms) -> new value | ErrQuota (new key only) | ErrTemporary
	FnKVDelete = "kv_delete" // (key_ptr, key_len) -> 0 | ErrNotFound | ErrTemporary

	// DNS lookups, grant GrantDNS (sdk/ABI.md §4.9).
	FnDNSLookup = "dns_lookup" // (qtype_ptr, qtype_len, name_ptr, name_len, buf, cap) -> len | ErrNotFound | ErrTemporary

	// DKIM signing, grant GrantDKIMPrefix+NAME (sdk/ABI.md §4.10).
	FnDKIMSign = "dkim_sign" // (name_ptr, name_len, opts_ptr, opts_len, buf, cap) -> 0 | ErrRefused

	// Message authentication, grant GrantDNS (sdk/ABI.md §4.11).
	FnAuthCheck = "auth_check" // (checks, buf, cap) -> len | ErrNotFound
	FnAuthValue = "auth_value" // (key_ptr, key_len, buf, cap) -> len | ErrNotFound

	// Content scanning, grant GrantScanPrefix+NAME (sdk/ABI.md §4.12).
	FnScan      = "scan"       // (name_ptr, name_len, buf, cap) -> len | ErrNotFound | ErrTemporary
	FnScanValue = "scan_value" // (key_ptr, key_len, buf, cap) -> len | ErrNotFound
)

// Checks for auth_check, OR-ed together (sdk/ABI.md §4.11).
const (
	AuthSPF   int32 = 1
	AuthDKIM  int32 = 2
	AuthDMARC int32 = 4 // implies AuthSPF and AuthDKIM
)

// Capability grants: host functions a plugin may import only when its
// policy block lists the grant (sdk/ABI.md §4.6, §4.8, §4.9).
const (
	GrantKV  = "kv"
	GrantDNS = "dns"
	// GrantEnvelope allows mail_set, rcpt_add and rcpt_remove (§4.6):
	// adding a recipient can copy mail out, removing one loses it.
	GrantEnvelope = "envelope"
	// GrantDKIMPrefix followed by the name of a dkim_key block grants
	// signing with that key; any such grant allows importing dkim_sign.
	GrantDKIMPrefix = "dkim:"
	// GrantScanPrefix followed by the name of a scanner block grants
	// scanning with that scanner; any such grant allows importing scan
	// and scan_value (sdk/ABI.md §4.12).
	GrantScanPrefix = "scan:"
)

// Limits of the key/value store (sdk/ABI.md §4.8).
const (
	KVMaxKey   = 256
	KVMaxValue = 64 << 10
	// A key counts KVEntryOverhead + its length + its value's length, but
	// at least KVMinValueCost for the value, against the plugin's quota
	// (KVDefaultQuota unless the policy sets kv_quota).
	KVEntryOverhead = 128
	KVMinValueCost  = 20 // the longest decimal counter: kv_incr of an existing key never needs room
	KVDefaultQuota  = 64 << 20
)

// Keys understood by the info import.
const (
	InfoSessionID  = "session.id"
	InfoClientIP   = "client.ip"
	InfoClientPort = "client.port"
	InfoClientName = "client.name"
	InfoHelo       = "helo"
	InfoTLS        = "tls"
	InfoTLSCipher  = "tls.cipher"
	InfoHostname   = "server.hostname"
	InfoPhase      = "phase"
	InfoPlugin     = "plugin.name"
	InfoMailFrom   = "mail.from"
	InfoMailParams = "mail.params"
	InfoDKIMKeys   = "dkim.keys"
	InfoRcpt       = "rcpt"
	InfoRcptParams = "rcpt.params"
	InfoQueueID    = "queue_id"
	InfoAuthUser   = "auth.user"
)

// Limits of the plugin contract (sdk/ABI.md §4.1-§4.7, §7), enforced by
// gateway/contract for the gateway and for sdk/go/sluicetest alike.
const (
	MaxLogText   = 4096 // log text past this is cut (§4.1)
	MaxTagKey    = 64   // tag keys are 1 to MaxTagKey bytes of A-Z a-z 0-9 _ . - (§4.3)
	MaxTagValue  = 1024 // tag values, without CR, LF or NUL (§4.3)
	MaxReplyText = 400  // set_reply text: 1 to MaxReplyText printable ASCII bytes (§4.7)
	// MaxAddress is the longest address mail_set and rcpt_add take: a path
	// is at most 256 octets with its angle brackets (RFC 5321 §4.5.3.1.3).
	MaxAddress = 254
	// MaxRcpts bounds rcpt_add: RFC 5321 §4.5.3.1.8 requires 100;
	// Postfix's smtpd_recipient_limit is 1000.
	MaxRcpts = 1000
	// MaxHeaderGrowth bounds the header bytes one call may add, so a
	// looping plugin cannot fill the gateway's memory before its deadline
	// (Postfix's header_size_limit is 102400 bytes for the whole header).
	MaxHeaderGrowth = 256 << 10
	// DefaultMaxMessageSize is the largest message a data-phase call may
	// leave unless the policy's max_message_size says otherwise (§7): the
	// listener's own default (gateway/policy checks that they agree).
	DefaultMaxMessageSize = 25 << 20
	// MessageGrowthAllowance is how much a message received near the size
	// limit may still grow (§7): room for the trace, tag and signature
	// fields plugins add.
	MessageGrowthAllowance = 64 << 10
)

// Keys of auth_value (sdk/ABI.md §4.11): one member of the last auth_check
// result. SPF and DMARC members are AuthKeySPF or AuthKeyDMARC followed by
// the member; signature N's are AuthKeyDKIM + N + "." + the member.
const (
	AuthKeySPF       = "spf."
	AuthKeyDKIM      = "dkim."
	AuthKeyDMARC     = "dmarc."
	AuthKeyDKIMCount = "dkim.count" // decimal
	AuthKeyResInfo   = "resinfo"
)

// Members of the auth_check result (sdk/ABI.md §4.11), as auth_value keys
// and JSON names.
const (
	AuthResult       = "result"        // spf, dkim, dmarc
	AuthReason       = "reason"        // spf, dkim, dmarc
	AuthIdentity     = "identity"      // spf
	AuthDomain       = "domain"        // spf, dkim
	AuthSender       = "sender"        // spf
	AuthSelector     = "selector"      // dkim
	AuthIdentifier   = "identifier"    // dkim
	AuthAlgorithm    = "algorithm"     // dkim
	AuthSignature    = "b"             // dkim
	AuthFromDomain   = "from_domain"   // dmarc
	AuthPolicyDomain = "policy_domain" // dmarc
	AuthPolicy       = "policy"        // dmarc
	AuthPercent      = "pct"           // dmarc, decimal
	AuthSPFAligned   = "spf_aligned"   // dmarc, true or false
	AuthDKIMAligned  = "dkim_aligned"  // dmarc, true or false
)

// ScanKeyError is the scan_value key of the reason the last scan of the
// call returned ErrTemporary (sdk/ABI.md §4.12); the other keys are the
// result's member paths, such as "action", "score" or "symbols.count".
const ScanKeyError = "error"
