// Capability host functions (sdk/ABI.md §4.8 to §4.11): the key/value
// store, DNS lookups, message authentication and DKIM signing.
//
//   import * as caps from "<path>/sdk/assemblyscript/assembly/capabilities";
//
//   export function sluice_on_rcpt(): i32 {
//     if (caps.kvIncr("rate", 1, 60000) > 100) return sluice.tempfail(451, "4.7.1", "Slow down");
//     return sluice.Verdict.Continue;
//   }
//
// Each function needs a grant in the plugin's policy block: grants = ["kv"]
// for the store, ["dns"] for dnsLookup and authCheck, ["dkim:NAME"] for
// dkimSign with key NAME. The gateway refuses at load a module that imports
// a capability function without its grant. This file is apart from
// sluice.ts, and the compiler emits an import only for a function a plugin
// calls, so a plugin that does not use these needs no grant.

import * as raw from "./capabilities_abi";
import { NOT_FOUND, QUOTA, REFUSED, TEMPERROR } from "./abi";
import { argLen, argPtr } from "./args";
import { str } from "./bytes";
import { InfoKey, infoString } from "./sluice";

export { NOT_FOUND, QUOTA, REFUSED, TEMPERROR } from "./abi";

/** Checks for authCheck, OR-ed together (sdk/ABI.md §4.11). */
export enum AuthCheck {
  /** SPF (RFC 7208), from phase mail. */
  SPF = 1,
  /** DKIM verification (RFC 6376), phase data only. */
  DKIM = 2,
  /** DMARC (RFC 7489), phase data only; implies SPF and DKIM. */
  DMARC = 4,
}

// ---------------------------------------------------------------------------
// The (buf, cap) protocol of sdk/ABI.md §3, for this file's functions.

const FIRST_CAP: i32 = 1024;
const first = new StaticArray<u8>(FIRST_CAP);

/** The last host result of fetch: a length, NOT_FOUND or TEMPERROR. */
let lastResult: i32 = 0;

/** Copies a value from the host into a Uint8Array the caller owns, or null on an error result. */
function fetch(fn: (a: usize, al: i32, b: usize, bl: i32, buf: usize, cap: i32) => i32,
  a: usize, al: i32, b: usize, bl: i32): Uint8Array | null {
  let n = fn(a, al, b, bl, changetype<usize>(first), FIRST_CAP);
  lastResult = n;
  if (n < 0) return null;
  if (n <= FIRST_CAP) {
    const r = new Uint8Array(n);
    memory.copy(r.dataStart, changetype<usize>(first), <usize>n);
    return r;
  }
  while (true) { // a value that grows between two calls takes one more
    const r = new Uint8Array(n);
    const m = fn(a, al, b, bl, r.dataStart, n);
    lastResult = m;
    if (m < 0) return null;
    if (m <= n) return m == n ? r : r.slice(0, m);
    n = m;
  }
}

// ---------------------------------------------------------------------------
// §4.8 Key/value store (grant "kv")
//
// One store per plugin name, shared by all its instances and kept across
// reloads. Keys are 1 to 256 bytes, values at most 64 KiB. ttlMs is the
// lifetime in milliseconds, 0 for none; a negative one traps. Usable in
// every phase, sluice_configure and _initialize. Writes take effect at once
// and are not undone when the call later fails.

/** Whether the last kv call got TEMPERROR. */
let unavailable = false;

/**
 * Whether the last kv call (kvGet, kvGetString, kvSet, kvIncr or kvDelete)
 * failed because the store could not answer (the ABI's TEMPERROR, §4.8): a
 * shared store (`kv { redis = ... }`) that is down or slower than its
 * timeout. Then kvGet's null does not mean "absent", kvSet's and
 * kvDelete's false do not mean "refused" or "absent", and kvIncr's result
 * is not a count; a write may or may not have happened. Decide what an
 * outage means for the plugin: a greylist tempfails, a rate limit lets the
 * message through.
 */
export function kvUnavailable(): bool {
  return unavailable;
}

/**
 * The value of `key`, or null if absent or expired, or if the store could
 * not answer: kvUnavailable() tells the two apart.
 */
export function kvGet<K>(key: K): Uint8Array | null {
  const v = fetch((kp: usize, kl: i32, _b: usize, _bl: i32, buf: usize, cap: i32): i32 => raw.kv_get(kp, kl, buf, cap),
    argPtr(key, 0), argLen(key), 0, 0);
  unavailable = v === null && lastResult == TEMPERROR;
  return v;
}

/** kvGet() decoded as UTF-8. */
export function kvGetString<K>(key: K): string | null {
  const v = kvGet(key);
  return v === null ? null : str(v);
}

/** Whether the last kvSet or kvIncr was refused with QUOTA. */
let quotaRefused = false;

/**
 * Whether the last kvSet or kvIncr was refused because the plugin's store
 * is at its kv_quota (the ABI's QUOTA, §4.8; default 64 MiB, a key counting
 * 128 bytes + key + value). Nothing was written.
 */
export function kvQuotaExceeded(): bool {
  return quotaRefused;
}

/**
 * Stores `value` under `key` for ttlMs milliseconds (0: no expiry),
 * replacing any value and lifetime. False when the store's quota refused it
 * (QUOTA: nothing was written; kvQuotaExceeded()) or the store could not
 * answer (TEMPERROR; kvUnavailable()).
 */
export function kvSet<K, V>(key: K, value: V, ttlMs: i32 = 0): bool {
  const n = raw.kv_set(argPtr(key, 0), argLen(key), argPtr(value, 1), argLen(value), ttlMs);
  quotaRefused = n == QUOTA;
  unavailable = n == TEMPERROR;
  return !quotaRefused && !unavailable;
}

/**
 * Atomically adds `delta` to the decimal counter under `key` and returns the
 * new value, saturated to the i32 range. A missing key starts at 0 and lives
 * ttlMs; an existing key keeps its lifetime (a fixed window). A value that
 * is not a decimal integer counts as 0. Creating the key past the quota
 * returns QUOTA and creates nothing: kvQuotaExceeded() tells it from a
 * counter at -4. A store that could not answer returns TEMPERROR:
 * kvUnavailable() tells it from a counter at -2.
 */
export function kvIncr<K>(key: K, delta: i32 = 1, ttlMs: i32 = 0): i32 {
  const n = raw.kv_incr(argPtr(key, 0), argLen(key), delta, ttlMs);
  quotaRefused = false;
  unavailable = false;
  if (n != QUOTA && n != TEMPERROR) return n;
  // -4 and -2 are also a counter's values. QUOTA is returned only instead
  // of creating the key, so the key exists now if and only if it counted;
  // TEMPERROR means the store could not answer, and then it cannot answer
  // kv_get either, or has no such key (sdk/ABI.md §4.8).
  if (kvGet(key) !== null) return n; // kvGet cleared unavailable
  if (!unavailable) {
    quotaRefused = n == QUOTA;
    unavailable = n == TEMPERROR;
  }
  return n;
}

/**
 * Removes `key`; false if it was absent, or if the store could not answer
 * (kvUnavailable()).
 */
export function kvDelete<K>(key: K): bool {
  const n = raw.kv_delete(argPtr(key, 0), argLen(key));
  unavailable = n == TEMPERROR;
  return n == 0;
}

// ---------------------------------------------------------------------------
// §4.9 DNS lookups (grant "dns")

/** The answer of dnsLookup: records, or why there are none. */
export class DnsAnswer {
  constructor(
    /** 0, NOT_FOUND or TEMPERROR. */
    public status: i32,
    /** The records, in the host's order; empty unless ok. */
    public records: string[],
  ) {}

  /** The lookup found records. */
  get ok(): bool { return this.status == 0; }
  /** The name does not exist, has no record of that type, or is not a valid name. */
  get notFound(): bool { return this.status == NOT_FOUND; }
  /** A timeout, server failure or network error: answer 4xx, not 5xx. */
  get temporary(): bool { return this.status == TEMPERROR; }
}

/**
 * The records of type `qtype` ("A", "AAAA", "TXT", "MX", "PTR", "NS",
 * "CNAME"; any other traps) for `name`, through the gateway's resolver and
 * cache, under the hook's timeout. Records are text: an address for A/AAAA,
 * the strings of one record concatenated for TXT, "preference host" for MX,
 * a name ending in "." otherwise.
 */
export function dnsLookup<N>(qtype: string, name: N): DnsAnswer {
  const v = fetch((qp: usize, ql: i32, np: usize, nl: i32, buf: usize, cap: i32): i32 => raw.dns_lookup(qp, ql, np, nl, buf, cap),
    argPtr(qtype, 0), argLen(qtype), argPtr(name, 1), argLen(name));
  if (v === null) return new DnsAnswer(lastResult == TEMPERROR ? TEMPERROR : NOT_FOUND, []);
  return new DnsAnswer(0, v.length == 0 ? [] : str(v).split("\n"));
}

// ---------------------------------------------------------------------------
// §4.11 Message authentication (grant "dns")

/**
 * Has the host evaluate the AuthCheck bits and keep the result for the rest
 * of this hook call, to read with authValue. False when a check is asked for
 * too early (SPF before mail, DKIM and DMARC before data). DNS failures are
 * temperror results, not errors.
 */
export function authCheck(checks: i32): bool {
  return raw.auth_check(checks, 0, 0) >= 0;
}

/** authCheck() returning the whole result as JSON, or null when too early. */
export function authCheckJSON(checks: i32): string | null {
  const v = fetch((c: usize, _cl: i32, _b: usize, _bl: i32, buf: usize, cap: i32): i32 => raw.auth_check(<i32>c, buf, cap),
    <usize>checks, 0, 0, 0);
  return v === null ? null : str(v);
}

/**
 * One member of the last authCheck of this hook call as text: "spf.result",
 * "dkim.count", "dkim.0.domain", "dmarc.pct", "dmarc.spf_aligned" ("true" or
 * "false"), ... null before any check in this call, for a check not asked
 * for, and for an unknown key.
 */
export function authValue<K>(key: K): string | null {
  const v = fetch((kp: usize, kl: i32, _b: usize, _bl: i32, buf: usize, cap: i32): i32 => raw.auth_value(kp, kl, buf, cap),
    argPtr(key, 0), argLen(key), 0, 0);
  return v === null ? null : str(v);
}

// ---------------------------------------------------------------------------
// §4.12 Content scanning (grant "scan:NAME")

/**
 * Has the host send the message as it is now to the scanner `name` (a
 * scanner block; an ungranted name traps) and keep the result for the rest
 * of this hook call, to read with scanValue. Returns 0, NOT_FOUND outside
 * phase data, or TEMPERROR when the scanner was unreachable, timed out or
 * answered garbage (scanValue("error") says why): defer the message then,
 * do not pass it unscanned.
 */
export function scan<N>(name: N): i32 {
  const n = raw.scan(argPtr(name, 0), argLen(name), 0, 0);
  return n < 0 ? n : 0;
}

/** scan() returning the whole result as JSON, or null on an error. */
export function scanJSON<N>(name: N): string | null {
  const v = fetch((np: usize, nl: i32, _b: usize, _bl: i32, buf: usize, cap: i32): i32 => raw.scan(np, nl, buf, cap),
    argPtr(name, 0), argLen(name), 0, 0);
  return v === null ? null : str(v);
}

/**
 * One member of the last scan of this hook call as text: "action", "score",
 * "required_score", "symbols.count", "symbols.0.name", "infected", "virus",
 * ... (sdk/ABI.md §4.12); "error" after a failed scan. null before any scan
 * in this call and for an unknown key.
 */
export function scanValue<K>(key: K): string | null {
  const v = fetch((kp: usize, kl: i32, _b: usize, _bl: i32, buf: usize, cap: i32): i32 => raw.scan_value(kp, kl, buf, cap),
    argPtr(key, 0), argLen(key), 0, 0);
  return v === null ? null : str(v);
}

// ---------------------------------------------------------------------------
// §4.10 DKIM signing (grant "dkim:NAME")

/** A key this plugin may sign with. */
export class DkimKey {
  constructor(
    /** The dkim_key block's name, for dkimSign. */
    public name: string,
    /** The signing domain (d=). */
    public domain: string,
    /** The selector (s=). */
    public selector: string,
    /** rsa-sha256 or ed25519-sha256. */
    public algorithm: string,
  ) {}
}

/** Whether c is a space, tab or CR. */
function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0d;
}

/**
 * Parses the value of info "dkim.keys": one key per line, "name domain
 * selector algorithm". Lines without exactly four fields are skipped.
 */
export function parseDkimKeys(text: string): DkimKey[] {
  const keys: DkimKey[] = [];
  const lines = text.split("\n");
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l];
    const f: string[] = [];
    let i = 0;
    while (i < line.length) {
      while (i < line.length && isSpace(line.charCodeAt(i))) i++;
      if (i == line.length) break;
      const start = i;
      while (i < line.length && !isSpace(line.charCodeAt(i))) i++;
      f.push(line.substring(start, i));
    }
    if (f.length == 4) keys.push(new DkimKey(f[0], f[1], f[2], f[3]));
  }
  return keys;
}

/** The keys this plugin may sign with (info "dkim.keys"); empty if none. */
export function dkimKeys(): DkimKey[] {
  const v = infoString(InfoKey.DKIMKeys);
  return v === null ? [] : parseDkimKeys(v);
}

/** The outcome of dkimSign. */
export class DkimSignResult {
  constructor(
    /** The message was signed. */
    public ok: bool,
    /** Why the host refused to sign; "" when ok. */
    public reason: string,
  ) {}
}

/** The longest reason dkim_sign writes (sdk/ABI.md §4.10). */
const MAX_REASON: i32 = 256;

/**
 * Has the host sign the message as it is now with key `name` and insert the
 * DKIM-Signature field at the top (phase data; sign last). `opts` is a JSON
 * object with any of "headers" (array of field names, must include From),
 * "canonicalization" and "expiration" (seconds), or "" for the defaults; an
 * unknown member traps, as does a key that was not granted. When the message
 * cannot be signed (no From field or several, or headers without From), the
 * result is not ok, with the host's reason, and the message is unchanged.
 */
export function dkimSign<N>(name: N, opts: string = ""): DkimSignResult {
  const buf = new Uint8Array(MAX_REASON);
  const r = raw.dkim_sign(argPtr(name, 0), argLen(name), argPtr(opts, 1), argLen(opts), buf.dataStart, MAX_REASON);
  if (r == 0) return new DkimSignResult(true, "");
  if (r != REFUSED) return new DkimSignResult(false, "unexpected host result " + r.toString());
  let end = 0;
  while (end < MAX_REASON && buf[end] != 0) end++;
  return new DkimSignResult(false, str(buf.subarray(0, end)));
}
