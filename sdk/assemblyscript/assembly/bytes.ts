// Byte helpers. Everything the host hands a plugin is bytes (Uint8Array):
// header values, addresses and tags are not guaranteed to be UTF-8
// (sdk/ABI.md §3). These helpers compare and slice bytes without turning
// them into AssemblyScript strings, which are UTF-16.

/** UTF-8 bytes of s. Convenience for text you control (ASCII is safest). */
export function bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

/**
 * b decoded as UTF-8 into a string. Invalid UTF-8 does not survive the
 * round trip: keep bytes you pass back to the host as bytes.
 */
export function str(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.length);
}

/** Whether b holds exactly the characters of the ASCII string s. Allocates nothing. */
export function equalsAscii(b: Uint8Array | null, s: string): bool {
  if (b === null) return false;
  const n = s.length;
  if (b.length != n) return false;
  for (let i = 0; i < n; i++) {
    if (<i32>unchecked(b[i]) != s.charCodeAt(i)) return false;
  }
  return true;
}

/** Like equalsAscii, but ASCII letters compare case-insensitively. */
export function equalsAsciiFold(b: Uint8Array | null, s: string): bool {
  if (b === null) return false;
  const n = s.length;
  if (b.length != n) return false;
  for (let i = 0; i < n; i++) {
    if (lowerAscii(<i32>unchecked(b[i])) != lowerAscii(s.charCodeAt(i))) return false;
  }
  return true;
}

/** Whether a and b hold the same bytes. */
export function equalBytes(a: Uint8Array | null, b: Uint8Array | null): bool {
  if (a === null || b === null) return a === b;
  if (a.length != b.length) return false;
  return memory.compare(a.dataStart, b.dataStart, <usize>a.length) == 0;
}

/** Like equalBytes, but ASCII letters compare case-insensitively (for addresses and names). */
export function equalBytesFold(a: Uint8Array | null, b: Uint8Array | null): bool {
  if (a === null || b === null) return a === b;
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (lowerAscii(<i32>unchecked(a[i])) != lowerAscii(<i32>unchecked(b[i]))) return false;
  }
  return true;
}

/** Whether b starts with the characters of the ASCII string s. */
export function startsWithAscii(b: Uint8Array, s: string): bool {
  return b.length >= s.length && equalsAscii(b.subarray(0, s.length), s);
}

/** A new array holding the bytes of a followed by those of b. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const r = new Uint8Array(a.length + b.length);
  memory.copy(r.dataStart, a.dataStart, <usize>a.length);
  memory.copy(r.dataStart + <usize>a.length, b.dataStart, <usize>b.length);
  return r;
}

/** Index of the first byte c in b at or after `from`, or -1. Fast on long arrays (8 bytes per step). */
export function indexOfByte(b: Uint8Array, c: u8, from: i32 = 0): i32 {
  if (from < 0) from = 0;
  if (from >= b.length) return -1;
  const at = findByte(b.dataStart + <usize>from, <usize>(b.length - from), c);
  return at < 0 ? -1 : from + at;
}

/** Index of the first occurrence of needle in hay at or after `from`, or -1. An empty needle is found at `from`. */
export function indexOf(hay: Uint8Array, needle: Uint8Array, from: i32 = 0): i32 {
  if (from < 0) from = 0;
  if (from > hay.length) return -1;
  const at = findBytes(hay.dataStart + <usize>from, hay.length - from, needle.dataStart, needle.length);
  return at < 0 ? -1 : from + at;
}

/** indexOf for an ASCII needle given as a string. */
export function indexOfAscii(hay: Uint8Array, needle: string, from: i32 = 0): i32 {
  return indexOf(hay, bytes(needle), from);
}

/**
 * Offset of the first byte c in memory[p : p+n], or -1. Compares 8 bytes per
 * loop iteration: in the gateway every loop iteration costs a check of the
 * call deadline, so byte-at-a-time loops over long data are slow.
 */
export function findByte(p: usize, n: usize, c: u8): i32 {
  const ones: u64 = 0x0101010101010101;
  const pattern = ones * <u64>c;
  let i: usize = 0;
  const n8 = n & ~(<usize>7);
  for (; i < n8; i += 8) {
    const x = load<u64>(p + i) ^ pattern;
    const found = (x - ones) & ~x & 0x8080808080808080; // lowest set byte is the first match
    if (found != 0) return <i32>(i + <usize>(ctz(found) >> 3));
  }
  for (; i < n; i++) {
    if (load<u8>(p + i) == c) return <i32>i;
  }
  return -1;
}

/** Offset of the first occurrence of memory[np : np+nl] in memory[hp : hp+hl], or -1. */
export function findBytes(hp: usize, hl: i32, np: usize, nl: i32): i32 {
  if (nl == 0) return 0;
  const first = load<u8>(np);
  const last = hl - nl; // the last offset where the needle fits
  let i = 0;
  while (i <= last) {
    const at = findByte(hp + <usize>i, <usize>(last - i + 1), first);
    if (at < 0) return -1;
    i += at;
    if (memory.compare(hp + <usize>i, np, <usize>nl) == 0) return i;
    i++;
  }
  return -1;
}

/** Index of the last byte c in b, or -1. */
export function lastIndexOfByte(b: Uint8Array, c: u8): i32 {
  for (let i = b.length - 1; i >= 0; i--) {
    if (unchecked(b[i]) == c) return i;
  }
  return -1;
}

/**
 * The local part of an address: the bytes before the last "@", or all of
 * addr if it has none. A view on addr, not a copy.
 */
export function localPart(addr: Uint8Array): Uint8Array {
  const at = lastIndexOfByte(addr, 0x40);
  return at < 0 ? addr : addr.subarray(0, at);
}

/** The domain of an address: the bytes after the last "@", or empty. A view on addr. */
export function domainPart(addr: Uint8Array): Uint8Array {
  const at = lastIndexOfByte(addr, 0x40);
  return at < 0 ? addr.subarray(addr.length) : addr.subarray(at + 1);
}

// @ts-ignore: decorator
@inline
function lowerAscii(c: i32): i32 {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}
