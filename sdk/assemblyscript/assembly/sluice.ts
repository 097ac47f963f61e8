// Sluice plugin SDK for AssemblyScript: a typed layer over plugin ABI v1
// (sdk/ABI.md, normative).
//
//   import * as sluice from "<path>/sdk/assemblyscript/assembly/sluice";
//   export { sluice_abi_version } from "<path>/sdk/assemblyscript/assembly/sluice";
//
//   export function sluice_on_data(): i32 {
//     sluice.addHeader("X-Hello", "world");
//     return sluice.Verdict.Continue;
//   }
//
// Bytes, not strings, cross the ABI. Values that come from the host are
// returned as Uint8Array (a fresh copy the plugin owns), or null when the host
// answers NOT_FOUND. Arguments are generic: pass a Uint8Array, ArrayBuffer,
// StaticArray<u8>, or a string (sent as UTF-8; keep to ASCII for names, keys
// and replies). The *String variants decode host values as UTF-8 for
// convenience; prefer the byte form for anything that may hold 8-bit data.

import * as abi from "./abi";
import { argLen, argPtr } from "./args";
import { jsonString } from "./json";
import { findBytes, str } from "./bytes";

export { ABI_VERSION, NOT_FOUND, TEMPERROR, REFUSED } from "./abi";
export * from "./bytes";
export * from "./json";

/**
 * Required export (sdk/ABI.md §2). Re-export it from your entry file:
 *
 *   export { sluice_abi_version } from "<path>/sdk/assemblyscript/assembly/sluice";
 */
export function sluice_abi_version(): i32 {
  return abi.ABI_VERSION;
}

/** What a hook returns (sdk/ABI.md §2.1). Return it from an exported hook as i32. */
export enum Verdict {
  /** Go on with the next plugin. */
  Continue = 0,
  /** Skip the rest of the chain for this transaction. */
  Accept = 1,
  /** Permanent failure (5xx) for this command; use reject() for your own reply. */
  Reject = 2,
  /** Temporary failure (4xx) for this command; use tempfail() for your own reply. */
  Tempfail = 3,
  /** Accept, but do not deliver the transaction (logged). */
  Discard = 4,
  /** Deliver, marked as quarantined; use quarantine() to give a reason. */
  Quarantine = 5,
}

/** Log levels for log() (sdk/ABI.md §4.1). */
export enum Level {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

/** Bits of the optional sluice_hooks export. AssemblyScript exports are explicit, so plugins rarely need it. */
export enum Hook {
  Connect = 1,
  Helo = 2,
  Mail = 4,
  Rcpt = 8,
  Data = 16,
}

/** Keys for info() and infoString() (sdk/ABI.md §4.2), with the first phase that has them. */
export namespace InfoKey {
  /** connect: the session id used in the logs. */
  export const SessionID = "session.id";
  /** connect: client address, textual. */
  export const ClientIP = "client.ip";
  /** connect: client TCP port, decimal. */
  export const ClientPort = "client.port";
  /** connect: the client's verified PTR name; NOT_FOUND if unknown. */
  export const ClientName = "client.name";
  /** helo: the HELO/EHLO argument. */
  export const Helo = "helo";
  /** connect: TLS version when encrypted; NOT_FOUND otherwise. */
  export const TLS = "tls";
  /** connect: cipher suite name when encrypted. */
  export const TLSCipher = "tls.cipher";
  /** connect: the listener's hostname. */
  export const Hostname = "server.hostname";
  /** connect: the current phase name. */
  export const Phase = "phase";
  /** connect (and sluice_configure): the plugin's name in the policy. */
  export const Plugin = "plugin.name";
  /** mail: reverse path without angle brackets; empty for the null sender. */
  export const MailFrom = "mail.from";
  /** mail: ESMTP parameters of MAIL. */
  export const MailParams = "mail.params";
  /** rcpt only: the recipient being checked. */
  export const Rcpt = "rcpt";
  /** rcpt only: ESMTP parameters of this RCPT. */
  export const RcptParams = "rcpt.params";
  /** mail: the MTA's queue id (milter mode only; Postfix's macro i). */
  export const QueueID = "queue_id";
  /** mail: the SASL login name when the client authenticated (milter mode). */
  export const AuthUser = "auth.user";
  /** connect: the DKIM keys this plugin may sign with, one per line (see capabilities.ts). */
  export const DKIMKeys = "dkim.keys";
}

// ---------------------------------------------------------------------------
// Host to guest: the (buf, cap) protocol of sdk/ABI.md §3.
//
// Every getter first asks the host to copy into `out`, a fixed buffer the SDK
// reuses for the life of the instance. If the value is longer (the host
// returned n > cap and copied nothing), it asks again into a buffer of
// exactly n bytes. The result is then copied out of `out`, so the caller
// always owns what it gets and `out` never grows.

const OUT_CAP: i32 = 4096;
const out = new StaticArray<u8>(OUT_CAP);

/** Where the last fetch left its n bytes: `out`, or a buffer of exactly n bytes. */
let big: Uint8Array | null = null;

// @ts-ignore: decorator
@inline
function outPtr(): usize {
  return changetype<usize>(out);
}

/** Prepares a buffer of exactly n bytes for the second try of a fetch. */
function bigBuf(n: i32): usize {
  const b = new Uint8Array(n);
  big = b;
  return b.dataStart;
}

/** The n bytes of the last fetch as a Uint8Array the caller owns, or null if n is NOT_FOUND. */
function fetchedBytes(n: i32): Uint8Array | null {
  if (n < 0) return null;
  const b = big;
  big = null;
  if (b !== null) return b;
  const r = new Uint8Array(n);
  memory.copy(r.dataStart, outPtr(), <usize>n);
  return r;
}

/** The n bytes of the last fetch decoded as UTF-8, or null if n is NOT_FOUND. */
function fetchedString(n: i32): string | null {
  if (n < 0) return null;
  const b = big;
  big = null;
  if (b !== null) return str(b);
  return String.UTF8.decodeUnsafe(outPtr(), <usize>n);
}

function fetchKeyed(fn: (kp: usize, kl: i32, buf: usize, cap: i32) => i32, kp: usize, kl: i32): i32 {
  big = null;
  const n = fn(kp, kl, outPtr(), OUT_CAP);
  if (n <= OUT_CAP) return n;
  return fn(kp, kl, bigBuf(n), n);
}

function fetchIndexed(fn: (index: i32, buf: usize, cap: i32) => i32, index: i32): i32 {
  big = null;
  const n = fn(index, outPtr(), OUT_CAP);
  if (n <= OUT_CAP) return n;
  return fn(index, bigBuf(n), n);
}

function fetchInfo<K>(key: K): i32 {
  return fetchKeyed((kp: usize, kl: i32, buf: usize, cap: i32): i32 => abi.info(kp, kl, buf, cap),
    argPtr(key, 0), argLen(key));
}

function fetchTag<K>(key: K): i32 {
  return fetchKeyed((kp: usize, kl: i32, buf: usize, cap: i32): i32 => abi.tag_get(kp, kl, buf, cap),
    argPtr(key, 0), argLen(key));
}

// ---------------------------------------------------------------------------
// §4.1 Logging and configuration

/** Writes msg to the gateway log, tagged with the plugin, phase and session. */
export function log<T>(level: Level, msg: T): void {
  abi.log(level, argPtr(msg, 0), argLen(msg));
}

/** log(Level.Debug, msg). */
export function logDebug<T>(msg: T): void { log(Level.Debug, msg); }
/** log(Level.Info, msg). */
export function logInfo<T>(msg: T): void { log(Level.Info, msg); }
/** log(Level.Warn, msg). */
export function logWarn<T>(msg: T): void { log(Level.Warn, msg); }
/** log(Level.Error, msg). */
export function logError<T>(msg: T): void { log(Level.Error, msg); }

/** The plugin's `config` from the policy, as JSON bytes ("{}" when there is none). */
export function config(): Uint8Array {
  big = null;
  let n = abi.config(outPtr(), OUT_CAP);
  if (n > OUT_CAP) n = abi.config(bigBuf(n), n);
  return fetchedBytes(n)!;
}

/**
 * The string value of top-level key `key` in the configuration, decoded, or
 * null if absent or not a string. See json.ts for the limits of the reader.
 */
export function configString(key: string): Uint8Array | null {
  return jsonString(config(), key);
}

// ---------------------------------------------------------------------------
// §4.2 Session and envelope information

/** The value of an InfoKey, or null if it does not exist (yet) in this phase. */
export function info<K>(key: K): Uint8Array | null {
  return fetchedBytes(fetchInfo(key));
}

/** info() decoded as UTF-8. */
export function infoString<K>(key: K): string | null {
  return fetchedString(fetchInfo(key));
}

/** The number of recipients already accepted (in rcpt, the one being checked is not counted). */
export function rcptCount(): i32 {
  const n = abi.rcpt_count();
  return n < 0 ? 0 : n;
}

/** Recipient `index` (0-based), or null. */
export function rcpt(index: i32): Uint8Array | null {
  return fetchedBytes(fetchIndexed((i: i32, buf: usize, cap: i32): i32 => abi.rcpt_get(i, buf, cap), index));
}

// ---------------------------------------------------------------------------
// §4.3 Tags

/** The value of tag `key`, or null. */
export function tag<K>(key: K): Uint8Array | null {
  return fetchedBytes(fetchTag(key));
}

/** tag() decoded as UTF-8. */
export function tagString<K>(key: K): string | null {
  return fetchedString(fetchTag(key));
}

/**
 * Sets tag `key` (1 to 64 bytes of [A-Za-z0-9_.-]) to `value` (at most 1024
 * bytes, no CR, LF or NUL). Anything else traps: a plugin error.
 */
export function setTag<K, V>(key: K, value: V): void {
  abi.tag_set(argPtr(key, 0), argLen(key), argPtr(value, 1), argLen(value));
}

// ---------------------------------------------------------------------------
// §4.4 Header fields (phase data)

/** The number of header fields; 0 outside data. */
export function headerCount(): i32 {
  const n = abi.header_count();
  return n < 0 ? 0 : n;
}

/** The name of field `index`, or null if out of range. */
export function headerName(index: i32): Uint8Array | null {
  return fetchedBytes(fetchIndexed((i: i32, buf: usize, cap: i32): i32 => abi.header_name(i, buf, cap), index));
}

/** The value of field `index` (folding kept as CRLF WSP), or null if out of range. */
export function headerValue(index: i32): Uint8Array | null {
  return fetchedBytes(fetchIndexed((i: i32, buf: usize, cap: i32): i32 => abi.header_value(i, buf, cap), index));
}

/** headerValue() decoded as UTF-8. */
export function headerValueString(index: i32): string | null {
  return fetchedString(fetchIndexed((i: i32, buf: usize, cap: i32): i32 => abi.header_value(i, buf, cap), index));
}

/** The index of the nth (0-based) field called `name`, compared case-insensitively, or -1. */
export function findHeader<N>(name: N, nth: i32 = 0): i32 {
  return abi.header_find(argPtr(name, 0), argLen(name), nth);
}

/** The value of the first field called `name`, or null. */
export function header<N>(name: N): Uint8Array | null {
  const i = findHeader(name, 0);
  return i < 0 ? null : headerValue(i);
}

/** Appends a field at the end of the header. An invalid name or value traps. */
export function addHeader<N, V>(name: N, value: V): void {
  abi.header_add(argPtr(name, 0), argLen(name), argPtr(value, 1), argLen(value));
}

/** Inserts a field before `index` (0 = top, headerCount() = end); false if out of range. */
export function insertHeader<N, V>(index: i32, name: N, value: V): bool {
  return abi.header_insert(index, argPtr(name, 0), argLen(name), argPtr(value, 1), argLen(value)) == 0;
}

/** Replaces the value of field `index`, keeping its name; false if out of range. */
export function changeHeader<V>(index: i32, value: V): bool {
  return abi.header_change(index, argPtr(value, 0), argLen(value)) == 0;
}

/** Removes field `index`; false if out of range. */
export function deleteHeader(index: i32): bool {
  return abi.header_delete(index) == 0;
}

// ---------------------------------------------------------------------------
// §4.5 Body (phase data)

/** The body size in bytes; 0 outside data. */
export function bodySize(): i32 {
  const n = abi.body_size();
  return n < 0 ? 0 : n;
}

/**
 * Copies body bytes from `offset` into buf and returns the count: 0 at the
 * end, -1 for an offset past the end. Reuse one buffer for the whole body:
 *
 *   const buf = new Uint8Array(65536);
 *   for (let off = 0, n = 0; (n = sluice.bodyRead(off, buf)) > 0; off += n) { ... buf.subarray(0, n) ... }
 */
export function bodyRead(offset: i32, buf: Uint8Array): i32 {
  return abi.body_read(offset, buf.dataStart, buf.length);
}

/**
 * Offset of the first occurrence of needle in the body, or -1. Reads the
 * body through buf (at least as long as needle; 64 KiB is a good size), in
 * chunks that overlap by needle.length - 1 bytes so that a match across two
 * chunks is found. Bytes compare exactly (case-sensitive).
 */
export function bodyIndexOf<T>(needle: T, buf: Uint8Array): i32 {
  const np = argPtr(needle, 0);
  const nl = argLen(needle);
  if (nl == 0) return 0;
  if (nl > buf.length) {
    throw new Error("bodyIndexOf: the buffer is shorter than the needle");
  }
  let off = 0;
  while (true) {
    const n = abi.body_read(off, buf.dataStart, buf.length);
    if (n < nl) return -1; // the end (or NOT_FOUND outside data)
    const at = findBytes(buf.dataStart, n, np, nl);
    if (at >= 0) return off + at;
    if (n < buf.length) return -1;
    off += n - nl + 1;
  }
}

/** Replaces the body (CRLF line endings, no NUL, lines of at most 998 bytes). */
export function replaceBody<T>(b: T): void {
  abi.body_replace(argPtr(b, 0), argLen(b));
}

/** Appends bytes to the body. Write a large new body as replaceBody + appendBody calls. */
export function appendBody<T>(b: T): void {
  abi.body_append(argPtr(b, 0), argLen(b));
}

// ---------------------------------------------------------------------------
// §4.6 Envelope changes

/** Sets the reverse path (phases mail and data); empty is the null sender. */
export function setMailFrom<T>(addr: T): void {
  abi.mail_set(argPtr(addr, 0), argLen(addr));
}

/** Adds a recipient (phase data). */
export function addRcpt<T>(addr: T): void {
  abi.rcpt_add(argPtr(addr, 0), argLen(addr));
}

/** Removes a recipient, compared case-insensitively (phase data); false if absent. Removing the last one traps: return Verdict.Discard instead. */
export function removeRcpt<T>(addr: T): bool {
  return abi.rcpt_remove(argPtr(addr, 0), argLen(addr)) == 0;
}

// ---------------------------------------------------------------------------
// §4.7 Reply

/**
 * Sets the reply for a reject (5xx) or tempfail (4xx) verdict. `enhanced` is
 * "class.subject.detail" with the class of `code`, or "" for X.0.0; `text`
 * is 1 to 400 bytes of printable ASCII. Anything else traps.
 */
export function setReply<E, T>(code: i32, enhanced: E, text: T): void {
  abi.set_reply(code, argPtr(enhanced, 0), argLen(enhanced), argPtr(text, 1), argLen(text));
}

/** Sets a 5xx reply and returns Verdict.Reject: `return sluice.reject(550, "5.7.1", "No thanks");`. */
export function reject<E, T>(code: i32, enhanced: E, text: T): Verdict {
  setReply(code, enhanced, text);
  return Verdict.Reject;
}

/** Sets a 4xx reply and returns Verdict.Tempfail. */
export function tempfail<E, T>(code: i32, enhanced: E, text: T): Verdict {
  setReply(code, enhanced, text);
  return Verdict.Tempfail;
}

/** Returns Verdict.Quarantine with `reason` (printable ASCII) in the X-Sluice-Quarantine header. */
export function quarantine<T>(reason: T): Verdict {
  setReply(550, "5.7.1", reason);
  return Verdict.Quarantine;
}
