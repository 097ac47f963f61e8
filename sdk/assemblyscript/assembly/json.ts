// A tiny reader for the top level of a JSON object (RFC 8259), enough to
// pull settings out of the plugin configuration without a JSON library.
//
// Limits, on purpose:
// - only keys of the top-level object are looked up; a key with the same
//   name inside a nested object or array never matches;
// - keys are compared byte for byte as written in the document: a key
//   spelled with escapes ("gr\u0065eting") does not match "greeting";
// - when a key appears twice, the first occurrence wins;
// - the document is scanned, not validated: malformed JSON makes a lookup
//   return null, it never traps. The host always sends valid JSON.

const QUOTE: u8 = 0x22;
const BACKSLASH: u8 = 0x5c;

/**
 * The value of top-level key `key` if it is a JSON string, decoded: the
 * escapes \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs included)
 * become their UTF-8 bytes. null if the key is absent or not a string.
 */
export function jsonString(json: Uint8Array, key: string): Uint8Array | null {
  const start = findValue(json, key);
  if (start < 0 || json[start] != QUOTE) return null;
  const end = skipString(json, start);
  if (end < 0) return null;
  return unescape(json, start + 1, end - 1);
}

/**
 * The raw JSON text of top-level key `key` (a string keeps its quotes and
 * escapes; a number, literal, object or array is returned as written).
 * null if the key is absent.
 */
export function jsonValue(json: Uint8Array, key: string): Uint8Array | null {
  const start = findValue(json, key);
  if (start < 0) return null;
  const end = skipValue(json, start);
  if (end < 0) return null;
  return json.slice(start, end);
}

/** Index of the first byte of the value of top-level key, or -1. */
function findValue(j: Uint8Array, key: string): i32 {
  let i = skipSpace(j, 0);
  if (i >= j.length || j[i] != 0x7b) return -1; // {
  i = skipSpace(j, i + 1);
  if (i < j.length && j[i] == 0x7d) return -1; // empty object
  while (i < j.length) {
    if (j[i] != QUOTE) return -1;
    const keyEnd = skipString(j, i);
    if (keyEnd < 0) return -1;
    const matches = rawEquals(j, i + 1, keyEnd - 1, key);
    i = skipSpace(j, keyEnd);
    if (i >= j.length || j[i] != 0x3a) return -1; // :
    i = skipSpace(j, i + 1);
    if (i >= j.length) return -1;
    if (matches) return i;
    i = skipValue(j, i);
    if (i < 0) return -1;
    i = skipSpace(j, i);
    if (i >= j.length || j[i] != 0x2c) return -1; // , (or the closing brace)
    i = skipSpace(j, i + 1);
  }
  return -1;
}

/** Index just past the value starting at i, or -1 if it is cut short. */
function skipValue(j: Uint8Array, i: i32): i32 {
  const c = j[i];
  if (c == QUOTE) return skipString(j, i);
  if (c == 0x7b || c == 0x5b) { // { or [: count nesting, skipping strings
    let depth = 0;
    while (i < j.length) {
      const b = j[i];
      if (b == QUOTE) {
        i = skipString(j, i);
        if (i < 0) return -1;
        continue;
      }
      if (b == 0x7b || b == 0x5b) depth++;
      else if (b == 0x7d || b == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // number, true, false or null: up to the next delimiter
  const start = i;
  while (i < j.length) {
    const b = j[i];
    if (b == 0x2c || b == 0x7d || b == 0x5d || isSpace(b)) break;
    i++;
  }
  return i > start ? i : -1;
}

/** Index just past the string whose opening quote is at i, or -1. */
function skipString(j: Uint8Array, i: i32): i32 {
  i++;
  while (i < j.length) {
    const b = j[i];
    if (b == BACKSLASH) i += 2;
    else if (b == QUOTE) return i + 1;
    else i++;
  }
  return -1;
}

function skipSpace(j: Uint8Array, i: i32): i32 {
  while (i < j.length && isSpace(j[i])) i++;
  return i;
}

// @ts-ignore: decorator
@inline
function isSpace(b: u8): bool {
  return b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d;
}

/** Whether j[from:to] holds exactly the characters of key (UTF-16 units < 128 only). */
function rawEquals(j: Uint8Array, from: i32, to: i32, key: string): bool {
  if (to - from != key.length) return false;
  for (let k = 0; k < key.length; k++) {
    if (<i32>j[from + k] != key.charCodeAt(k)) return false;
  }
  return true;
}

/** Decodes the string contents j[from:to] (between the quotes). */
function unescape(j: Uint8Array, from: i32, to: i32): Uint8Array | null {
  // Every escape is at least as long as the UTF-8 it stands for.
  const out = new Uint8Array(to - from);
  let n = 0;
  let i = from;
  while (i < to) {
    const b = j[i];
    if (b != BACKSLASH) {
      out[n++] = b;
      i++;
      continue;
    }
    if (i + 1 >= to) return null;
    const e = j[i + 1];
    i += 2;
    if (e == 0x75) { // \uXXXX
      let cp = hex4(j, i, to);
      if (cp < 0) return null;
      i += 4;
      if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= to && j[i] == BACKSLASH && j[i + 1] == 0x75) {
        const lo = hex4(j, i + 2, to);
        if (lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 6;
        }
      }
      n = putUTF8(out, n, cp);
      continue;
    }
    let c: i32;
    switch (e) {
      case 0x22: c = 0x22; break; // "
      case 0x5c: c = 0x5c; break; // \
      case 0x2f: c = 0x2f; break; // /
      case 0x62: c = 0x08; break; // b
      case 0x66: c = 0x0c; break; // f
      case 0x6e: c = 0x0a; break; // n
      case 0x72: c = 0x0d; break; // r
      case 0x74: c = 0x09; break; // t
      default: return null;
    }
    out[n++] = <u8>c;
  }
  return out.slice(0, n);
}

/** The value of the 4 hex digits at j[i:i+4], or -1. */
function hex4(j: Uint8Array, i: i32, to: i32): i32 {
  if (i + 4 > to) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = <i32>j[i + k];
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Writes code point cp as UTF-8 at out[n] and returns the new length. A lone surrogate becomes U+FFFD. */
function putUTF8(out: Uint8Array, n: i32, cp: i32): i32 {
  if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
  if (cp < 0x80) {
    out[n++] = <u8>cp;
  } else if (cp < 0x800) {
    out[n++] = <u8>(0xc0 | (cp >> 6));
    out[n++] = <u8>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out[n++] = <u8>(0xe0 | (cp >> 12));
    out[n++] = <u8>(0x80 | ((cp >> 6) & 0x3f));
    out[n++] = <u8>(0x80 | (cp & 0x3f));
  } else {
    out[n++] = <u8>(0xf0 | (cp >> 18));
    out[n++] = <u8>(0x80 | ((cp >> 12) & 0x3f));
    out[n++] = <u8>(0x80 | ((cp >> 6) & 0x3f));
    out[n++] = <u8>(0x80 | (cp & 0x3f));
  }
  return n;
}
