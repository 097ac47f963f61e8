// Raw Sluice plugin ABI v1: the host functions of module "sluice", exactly
// as sdk/ABI.md §4 (normative) and sdk/abi/abi.go define them.
//
// Every parameter and result is an i32. Pointers are offsets into the
// exported memory and lengths are byte counts. Functions that return a value
// use the (buf, cap) protocol: they return the full length n, and copy the
// value only when n <= cap (body_read is the exception: it copies what fits).
// The error results are NOT_FOUND (-1), and TEMPERROR (-2), REFUSED (-3)
// and QUOTA (-4) from the capability functions; every other misuse traps.
//
// Plugin code normally uses the typed API in sluice.ts; these declarations
// are for authors who want to manage buffers themselves. The capability
// functions (§4.8 to §4.11), which need a grant, are declared apart, in
// capabilities_abi.ts.

/** ABI version this SDK speaks; sluice_abi_version returns it (ABI.md §8). */
export const ABI_VERSION: i32 = 1;

/** No such item, or not in this phase. */
export const NOT_FOUND: i32 = -1;

/** A capability function could not answer now (DNS timeout, SERVFAIL); retrying later may succeed (§4.9). */
export const TEMPERROR: i32 = -2;

/** dkim_sign declined, with the reason in the plugin's buffer (§4.10). */
export const REFUSED: i32 = -3;

/** kv_set or kv_incr would take the plugin's key/value store past its kv_quota; nothing was written (§4.8). */
export const QUOTA: i32 = -4;

// §4.1 Logging and configuration

/** log(level, ptr, len): writes a line to the gateway log. */
@external("sluice", "log")
export declare function log(level: i32, ptr: usize, len: i32): void;

/** config(buf, cap) -> len: the plugin's config as JSON ("{}" if none). */
@external("sluice", "config")
export declare function config(buf: usize, cap: i32): i32;

// §4.2 Session and envelope information

/** info(key_ptr, key_len, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "info")
export declare function info(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

/** rcpt_count() -> n: recipients already accepted in this transaction. */
@external("sluice", "rcpt_count")
export declare function rcpt_count(): i32;

/** rcpt_get(index, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "rcpt_get")
export declare function rcpt_get(index: i32, buf: usize, cap: i32): i32;

// §4.3 Tags

/** tag_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "tag_get")
export declare function tag_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

/** tag_set(key_ptr, key_len, val_ptr, val_len) -> 0. */
@external("sluice", "tag_set")
export declare function tag_set(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32;

// §4.4 Header fields (phase data)

/** header_count() -> n | NOT_FOUND. */
@external("sluice", "header_count")
export declare function header_count(): i32;

/** header_name(index, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "header_name")
export declare function header_name(index: i32, buf: usize, cap: i32): i32;

/** header_value(index, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "header_value")
export declare function header_value(index: i32, buf: usize, cap: i32): i32;

/** header_find(name_ptr, name_len, nth) -> index | NOT_FOUND (case-insensitive). */
@external("sluice", "header_find")
export declare function header_find(namePtr: usize, nameLen: i32, nth: i32): i32;

/** header_add(name_ptr, name_len, val_ptr, val_len) -> 0: appends a field. */
@external("sluice", "header_add")
export declare function header_add(namePtr: usize, nameLen: i32, valPtr: usize, valLen: i32): i32;

/** header_insert(index, name_ptr, name_len, val_ptr, val_len) -> 0 | NOT_FOUND. */
@external("sluice", "header_insert")
export declare function header_insert(index: i32, namePtr: usize, nameLen: i32, valPtr: usize, valLen: i32): i32;

/** header_change(index, val_ptr, val_len) -> 0 | NOT_FOUND. */
@external("sluice", "header_change")
export declare function header_change(index: i32, valPtr: usize, valLen: i32): i32;

/** header_delete(index) -> 0 | NOT_FOUND. */
@external("sluice", "header_delete")
export declare function header_delete(index: i32): i32;

// §4.5 Body (phase data)

/** body_size() -> n | NOT_FOUND. */
@external("sluice", "body_size")
export declare function body_size(): i32;

/** body_read(offset, buf, cap) -> count (0 at the end) | NOT_FOUND past the end. */
@external("sluice", "body_read")
export declare function body_read(offset: i32, buf: usize, cap: i32): i32;

/** body_replace(ptr, len) -> 0. */
@external("sluice", "body_replace")
export declare function body_replace(ptr: usize, len: i32): i32;

/** body_append(ptr, len) -> 0. */
@external("sluice", "body_append")
export declare function body_append(ptr: usize, len: i32): i32;

// §4.6 Envelope changes

/** mail_set(ptr, len) -> 0 (phases mail and data; empty = null sender). */
@external("sluice", "mail_set")
export declare function mail_set(ptr: usize, len: i32): i32;

/** rcpt_add(ptr, len) -> 0 (phase data). */
@external("sluice", "rcpt_add")
export declare function rcpt_add(ptr: usize, len: i32): i32;

/** rcpt_remove(ptr, len) -> 0 | NOT_FOUND (phase data). */
@external("sluice", "rcpt_remove")
export declare function rcpt_remove(ptr: usize, len: i32): i32;

// §4.7 Reply

/** set_reply(code, enh_ptr, enh_len, text_ptr, text_len) -> 0. */
@external("sluice", "set_reply")
export declare function set_reply(code: i32, enhPtr: usize, enhLen: i32, textPtr: usize, textLen: i32): i32;
