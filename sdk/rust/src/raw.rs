//! The raw host functions of module `sluice`, exactly as `sdk/ABI.md` §4
//! declares them: every parameter and result is an `i32`, pointers are
//! offsets into the module's memory.
//!
//! You rarely need these: [`Host`](crate::Host) wraps each of them with the
//! `(buf, cap)` retry protocol and slices. They exist only when compiling for
//! `wasm32`.
//!
//! Results: a non-negative value is a length, count, index or `0` for
//! success; [`NOT_FOUND`](crate::NOT_FOUND) (`-1`) means no such item;
//! the capability functions also return [`TEMPERROR`](crate::TEMPERROR)
//! (`-2`) and [`REFUSED`](crate::REFUSED) (`-3`). Every other misuse traps
//! inside the host.
//!
//! The capability functions (§4.8 to §4.11) need a grant in the plugin's
//! policy block, and the gateway refuses a module that imports one without
//! it. A module imports only the functions it calls: the linker drops the
//! unused declarations, so a plugin that never calls them needs no grant.

#[link(wasm_import_module = "sluice")]
extern "C" {
    // §4.1 Logging and configuration.
    /// `log(level, ptr, len)`: a line in the gateway log (§4.1).
    pub fn log(level: i32, ptr: i32, len: i32);
    /// `config(buf, cap) -> len`: the plugin configuration as JSON (§4.1).
    pub fn config(buf: i32, cap: i32) -> i32;

    // §4.2 Session and envelope information.
    /// `info(key_ptr, key_len, buf, cap) -> len | NOT_FOUND` (§4.2).
    pub fn info(key_ptr: i32, key_len: i32, buf: i32, cap: i32) -> i32;
    /// `rcpt_count() -> n`: recipients accepted so far (§4.2).
    pub fn rcpt_count() -> i32;
    /// `rcpt_get(index, buf, cap) -> len | NOT_FOUND` (§4.2).
    pub fn rcpt_get(index: i32, buf: i32, cap: i32) -> i32;

    // §4.3 Tags.
    /// `tag_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND` (§4.3).
    pub fn tag_get(key_ptr: i32, key_len: i32, buf: i32, cap: i32) -> i32;
    /// `tag_set(key_ptr, key_len, val_ptr, val_len) -> 0` (§4.3).
    pub fn tag_set(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32) -> i32;

    // §4.4 Header fields.
    /// `header_count() -> n | NOT_FOUND` (§4.4).
    pub fn header_count() -> i32;
    /// `header_name(index, buf, cap) -> len | NOT_FOUND` (§4.4).
    pub fn header_name(index: i32, buf: i32, cap: i32) -> i32;
    /// `header_value(index, buf, cap) -> len | NOT_FOUND` (§4.4).
    pub fn header_value(index: i32, buf: i32, cap: i32) -> i32;
    /// `header_find(name_ptr, name_len, nth) -> index | NOT_FOUND` (§4.4).
    pub fn header_find(name_ptr: i32, name_len: i32, nth: i32) -> i32;
    /// `header_add(name_ptr, name_len, val_ptr, val_len) -> 0` (§4.4).
    pub fn header_add(name_ptr: i32, name_len: i32, val_ptr: i32, val_len: i32) -> i32;
    /// `header_insert(index, name_ptr, name_len, val_ptr, val_len) -> 0 | NOT_FOUND` (§4.4).
    pub fn header_insert(index: i32, name_ptr: i32, name_len: i32, val_ptr: i32, val_len: i32) -> i32;
    /// `header_change(index, val_ptr, val_len) -> 0 | NOT_FOUND` (§4.4).
    pub fn header_change(index: i32, val_ptr: i32, val_len: i32) -> i32;
    /// `header_delete(index) -> 0 | NOT_FOUND` (§4.4).
    pub fn header_delete(index: i32) -> i32;

    // §4.5 Body.
    /// `body_size() -> n | NOT_FOUND` (§4.5).
    pub fn body_size() -> i32;
    /// `body_read(offset, buf, cap) -> n | NOT_FOUND`: copies what fits (§4.5).
    pub fn body_read(offset: i32, buf: i32, cap: i32) -> i32;
    /// `body_replace(ptr, len) -> 0` (§4.5).
    pub fn body_replace(ptr: i32, len: i32) -> i32;
    /// `body_append(ptr, len) -> 0` (§4.5).
    pub fn body_append(ptr: i32, len: i32) -> i32;

    // §4.6 Envelope changes.
    /// `mail_set(ptr, len) -> 0`: the reverse path (§4.6).
    pub fn mail_set(ptr: i32, len: i32) -> i32;
    /// `rcpt_add(ptr, len) -> 0` (§4.6).
    pub fn rcpt_add(ptr: i32, len: i32) -> i32;
    /// `rcpt_remove(ptr, len) -> 0 | NOT_FOUND` (§4.6).
    pub fn rcpt_remove(ptr: i32, len: i32) -> i32;

    // §4.7 Reply.
    /// `set_reply(code, enh_ptr, enh_len, text_ptr, text_len) -> 0` (§4.7).
    pub fn set_reply(code: i32, enh_ptr: i32, enh_len: i32, text_ptr: i32, text_len: i32) -> i32;
}

#[link(wasm_import_module = "sluice")]
extern "C" {
    // §4.8 Key/value store (grant "kv").
    /// `kv_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND | TEMPERROR` (§4.8).
    pub fn kv_get(key_ptr: i32, key_len: i32, buf: i32, cap: i32) -> i32;
    /// `kv_set(key_ptr, key_len, val_ptr, val_len, ttl_ms) -> 0 | TEMPERROR | QUOTA` (§4.8).
    pub fn kv_set(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32, ttl_ms: i32) -> i32;
    /// `kv_incr(key_ptr, key_len, delta, ttl_ms) -> new value | TEMPERROR | QUOTA` (§4.8).
    pub fn kv_incr(key_ptr: i32, key_len: i32, delta: i32, ttl_ms: i32) -> i32;
    /// `kv_delete(key_ptr, key_len) -> 0 | NOT_FOUND | TEMPERROR` (§4.8).
    pub fn kv_delete(key_ptr: i32, key_len: i32) -> i32;

    // §4.9 DNS lookups (grant "dns").
    /// `dns_lookup(qtype_ptr, qtype_len, name_ptr, name_len, buf, cap) -> len | NOT_FOUND | TEMPERROR` (§4.9).
    pub fn dns_lookup(
        qtype_ptr: i32,
        qtype_len: i32,
        name_ptr: i32,
        name_len: i32,
        buf: i32,
        cap: i32,
    ) -> i32;

    // §4.10 DKIM signing (grant "dkim:NAME").
    /// `dkim_sign(name_ptr, name_len, opts_ptr, opts_len, buf, cap) -> 0 | REFUSED` (§4.10).
    pub fn dkim_sign(name_ptr: i32, name_len: i32, opts_ptr: i32, opts_len: i32, buf: i32, cap: i32) -> i32;

    // §4.11 Message authentication (grant "dns").
    /// `auth_check(checks, buf, cap) -> len | NOT_FOUND` (§4.11).
    pub fn auth_check(checks: i32, buf: i32, cap: i32) -> i32;
    /// `auth_value(key_ptr, key_len, buf, cap) -> len | NOT_FOUND` (§4.11).
    pub fn auth_value(key_ptr: i32, key_len: i32, buf: i32, cap: i32) -> i32;

    // §4.12 Content scanning (grant "scan:NAME").
    /// `scan(name_ptr, name_len, buf, cap) -> len | NOT_FOUND | TEMPERROR` (§4.12).
    pub fn scan(name_ptr: i32, name_len: i32, buf: i32, cap: i32) -> i32;
    /// `scan_value(key_ptr, key_len, buf, cap) -> len | NOT_FOUND` (§4.12).
    pub fn scan_value(key_ptr: i32, key_len: i32, buf: i32, cap: i32) -> i32;
}
