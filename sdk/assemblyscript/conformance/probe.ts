// The AssemblyScript conformance probe (sdk/CONFORMANCE.md §2): exercises
// every hook, every verdict and every host function so the Go suite can
// compare its effects byte for byte with the other languages.
//
// It keeps no per-message state in globals: the only global is the fixed
// body buffer, which holds nothing between calls.

import * as sluice from "../assembly/sluice";

export { sluice_abi_version } from "../assembly/sluice";

const FNV_OFFSET: u32 = 2166136261;
const FNV_PRIME: u32 = 16777619;

/** Body chunks are read into this one buffer, never the whole body at once. */
const chunk = new Uint8Array(65536);

/** Continues an FNV-1a 32-bit hash over b. */
function fnv(h: u32, b: Uint8Array): u32 {
  // Hot loop, written for speed:
  // - raw loads from linear memory: indexing a Uint8Array spills it to the
  //   GC's shadow stack on every byte;
  // - 32 bytes per iteration: the gateway's compiler (wazero, with
  //   close-on-deadline) leaves the guest at every loop back-edge to check the
  //   deadline, about 40 ns each, so a byte-per-iteration loop over a 10 MiB
  //   body takes ~0.5 s instead of ~30 ms.
  const p = b.dataStart;
  const n = <usize>b.length;
  const n32 = n & ~(<usize>31);
  let i: usize = 0;
  for (; i < n32; i += 32) {
    h = fnv8(h, load<u64>(p + i));
    h = fnv8(h, load<u64>(p + i, 8));
    h = fnv8(h, load<u64>(p + i, 16));
    h = fnv8(h, load<u64>(p + i, 24));
  }
  for (; i < n; i++) {
    h = (h ^ <u32>load<u8>(p + i)) * FNV_PRIME;
  }
  return h;
}

/** Hashes the 8 bytes of w, lowest address (least significant byte) first. */
// @ts-ignore: decorator
@inline
function fnv8(h: u32, w: u64): u32 {
  h = (h ^ <u32>(w & 0xff)) * FNV_PRIME;
  h = (h ^ <u32>((w >> 8) & 0xff)) * FNV_PRIME;
  h = (h ^ <u32>((w >> 16) & 0xff)) * FNV_PRIME;
  h = (h ^ <u32>((w >> 24) & 0xff)) * FNV_PRIME;
  h = (h ^ <u32>((w >> 32) & 0xff)) * FNV_PRIME;
  h = (h ^ <u32>((w >> 40) & 0xff)) * FNV_PRIME;
  h = (h ^ <u32>((w >> 48) & 0xff)) * FNV_PRIME;
  return (h ^ <u32>(w >> 56)) * FNV_PRIME;
}

/** Continues an FNV-1a 32-bit hash over one byte. */
function fnvByte(h: u32, c: u8): u32 {
  return (h ^ <u32>c) * FNV_PRIME;
}

/** h as 8 lowercase hex digits. */
function hex8(h: u32): string {
  return h.toString(16).padStart(8, "0");
}

/** Tags key with info(infoKey) when the host has it. */
function tagInfo(key: string, infoKey: string): void {
  const v = sluice.info(infoKey);
  if (v !== null) sluice.setTag(key, v);
}

export function sluice_configure(): i32 {
  return 0;
}

export function sluice_on_connect(): i32 {
  tagInfo("probe.connect", sluice.InfoKey.ClientIP);
  return sluice.Verdict.Continue;
}

export function sluice_on_helo(): i32 {
  tagInfo("probe.helo", sluice.InfoKey.Helo);
  return sluice.Verdict.Continue;
}

export function sluice_on_mail(): i32 {
  const from = sluice.info(sluice.InfoKey.MailFrom);
  if (from === null) return sluice.Verdict.Continue;
  sluice.setTag("probe.mail", from);
  const local = sluice.localPart(from);
  if (sluice.equalsAscii(local, "reject")) return sluice.reject(550, "5.7.1", "probe reject");
  if (sluice.equalsAscii(local, "tempfail")) return sluice.tempfail(451, "4.7.1", "probe tempfail");
  if (sluice.equalsAscii(local, "accept")) return sluice.Verdict.Accept;
  if (sluice.equalsAscii(local, "discard")) return sluice.Verdict.Discard;
  if (sluice.equalsAscii(local, "quarantine")) return sluice.quarantine("probe quarantine");
  if (sluice.equalsAscii(local, "badverdict")) return 7;
  if (sluice.equalsAscii(local, "badreply")) {
    sluice.setReply(250, "2.0.0", "ok"); // traps
    return sluice.Verdict.Continue;
  }
  if (sluice.equalsAscii(local, "crlfreply")) {
    sluice.setReply(550, "5.7.1", "x\r\n250 OK"); // traps
    return sluice.Verdict.Continue;
  }
  if (sluice.equalsAscii(local, "mismatch")) {
    sluice.setReply(451, "4.7.1", "wrong class");
    return sluice.Verdict.Reject; // a 4xx reply with reject: a plugin error
  }
  if (sluice.equalsAscii(local, "trap")) {
    throw new Error("probe trap"); // env.abort: the host traps and logs the message
  }
  return sluice.Verdict.Continue;
}

export function sluice_on_rcpt(): i32 {
  sluice.setTag("probe.rcpt.count", sluice.rcptCount().toString());
  const to = sluice.info(sluice.InfoKey.Rcpt);
  if (to !== null && sluice.equalsAscii(sluice.localPart(to), "blocked")) {
    return sluice.reject(550, "5.7.1", "probe blocked");
  }
  return sluice.Verdict.Continue;
}

export function sluice_on_data(): i32 {
  // 1. Every header field, raw bytes with folding: name ":" value "\n".
  const count = sluice.headerCount();
  let h = FNV_OFFSET;
  for (let i = 0; i < count; i++) {
    h = fnv(h, sluice.headerName(i)!);
    h = fnvByte(h, 0x3a);
    h = fnv(h, sluice.headerValue(i)!);
    h = fnvByte(h, 0x0a);
  }
  sluice.setTag("probe.headers", hex8(h));
  sluice.setTag("probe.header.count", count.toString());

  // 2. The second Subject, found case-insensitively.
  const s2 = sluice.findHeader("subject", 1);
  if (s2 >= 0) sluice.setTag("probe.subject2", sluice.headerValue(s2)!);

  // 3. The body, in chunks of at most 64 KiB through one fixed buffer.
  let total = 0;
  h = FNV_OFFSET;
  for (let n = sluice.bodyRead(0, chunk); n > 0; n = sluice.bodyRead(total, chunk)) {
    h = fnv(h, chunk.subarray(0, n));
    total += n;
  }
  sluice.setTag("probe.body.len", total.toString());
  sluice.setTag("probe.body.sum", hex8(h));

  // 4. The configuration, byte-exact.
  const cfg = sluice.config();
  sluice.setTag("probe.config.len", cfg.length.toString());
  sluice.setTag("probe.config.sum", hex8(fnv(FNV_OFFSET, cfg)));

  // 5. Mutations.
  let i = sluice.findHeader("X-Probe-Delete", 0);
  if (i >= 0) sluice.deleteHeader(i);
  i = sluice.findHeader("X-Probe-Change", 0);
  if (i >= 0) sluice.changeHeader(i, "changed");
  sluice.insertHeader(0, "X-Probe-Top", "1");
  sluice.addHeader("X-Probe", "assemblyscript");
  if (sluice.findHeader("X-Probe-Body", 0) >= 0) {
    sluice.replaceBody("replaced\r\n");
    sluice.appendBody("appended\r\n");
  }
  return sluice.Verdict.Continue;
}
