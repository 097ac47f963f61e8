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

// Result codes returned by host functions. Non-negative values are lengths,
// counts, indexes or 0 for success.
const (
	ErrNotFound int32 = -1 // no such item, or not available in this phase
	// ErrTemporary: a capability function could not answer now (DNS
	// timeout, SERVFAIL); retrying later may succeed (sdk/ABI.md §4.9).
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
	FnKVGet    = "kv_get"    // (key_ptr, key_len, buf, cap) -> len | ErrNotFound
	FnKVSet    = "kv_set"    // (key_ptr, key_len, val_ptr, val_len, ttl_ms) -> 0 | ErrQuota
	FnKVIncr   = "kv_incr"   // (key_ptr, key_len, delta, ttl_ms) -> new value | ErrQuota (new key only)
	FnKVDelete = "kv_delete" // (key_ptr, key_len) -> 0 | ErrNotFound

	// DNS lookups, grant GrantDNS (sdk/ABI.md §4.9).
	FnDNSLookup = "dns_lookup" // (qtype_ptr, qtype_len, name_ptr, name_len, buf, cap) -> len | ErrNotFound | ErrTemporary

	// DKIM signing, grant GrantDKIMPrefix+NAME (sdk/ABI.md §4.10).
	FnDKIMSign = "dkim_sign" // (name_ptr, name_len, opts_ptr, opts_len, buf, cap) -> 0 | ErrRefused

	// Message authentication, grant GrantDNS (sdk/ABI.md §4.11).
	FnAuthCheck = "auth_check" // (checks, buf, cap) -> len | ErrNotFound
	FnAuthValue = "auth_value" // (key_ptr, key_len, buf, cap) -> len | ErrNotFound
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
