// Raw capability host functions of module "sluice" (sdk/ABI.md §4.8 to
// §4.11), exact i32 signatures. Each needs a grant in the plugin's policy
// block, and the gateway refuses at load a module that imports one without
// it. They live apart from abi.ts so that a plugin reaches them only through
// capabilities.ts, and the compiler emits an import only for a function the
// plugin calls.

// §4.8 Key/value store (grant "kv")

/** kv_get(key_ptr, key_len, buf, cap) -> len | NOT_FOUND | TEMPERROR. */
@external("sluice", "kv_get")
export declare function kv_get(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

/** kv_set(key_ptr, key_len, val_ptr, val_len, ttl_ms) -> 0 | TEMPERROR | QUOTA. */
@external("sluice", "kv_set")
export declare function kv_set(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32, ttlMs: i32): i32;

/** kv_incr(key_ptr, key_len, delta, ttl_ms) -> new value | TEMPERROR | QUOTA. */
@external("sluice", "kv_incr")
export declare function kv_incr(keyPtr: usize, keyLen: i32, delta: i32, ttlMs: i32): i32;

/** kv_delete(key_ptr, key_len) -> 0 | NOT_FOUND | TEMPERROR. */
@external("sluice", "kv_delete")
export declare function kv_delete(keyPtr: usize, keyLen: i32): i32;

// §4.9 DNS lookups (grant "dns")

/** dns_lookup(qtype_ptr, qtype_len, name_ptr, name_len, buf, cap) -> len | NOT_FOUND | TEMPERROR. */
@external("sluice", "dns_lookup")
export declare function dns_lookup(qtypePtr: usize, qtypeLen: i32, namePtr: usize, nameLen: i32, buf: usize, cap: i32): i32;

// §4.10 DKIM signing (grant "dkim:NAME")

/** dkim_sign(name_ptr, name_len, opts_ptr, opts_len, buf, cap) -> 0 | REFUSED. */
@external("sluice", "dkim_sign")
export declare function dkim_sign(namePtr: usize, nameLen: i32, optsPtr: usize, optsLen: i32, buf: usize, cap: i32): i32;

// §4.11 Message authentication (grant "dns")

/** auth_check(checks, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "auth_check")
export declare function auth_check(checks: i32, buf: usize, cap: i32): i32;

/** auth_value(key_ptr, key_len, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "auth_value")
export declare function auth_value(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;

// §4.12 Content scanning (grant "scan:NAME")

/** scan(name_ptr, name_len, buf, cap) -> len | NOT_FOUND | TEMPERROR. */
@external("sluice", "scan")
export declare function scan(namePtr: usize, nameLen: i32, buf: usize, cap: i32): i32;

/** scan_value(key_ptr, key_len, buf, cap) -> len | NOT_FOUND. */
@external("sluice", "scan_value")
export declare function scan_value(keyPtr: usize, keyLen: i32, buf: usize, cap: i32): i32;
