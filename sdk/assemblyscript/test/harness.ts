// A plugin that exercises SDK functions the example and the probe do not,
// driven by test/sdk.test.js. Not an example to copy.

import * as sluice from "../assembly/sluice";

export { sluice_abi_version } from "../assembly/sluice";

const input = new StaticArray<u8>(65536);
const output = new StaticArray<u8>(65536);

/** Where the test writes its input. */
export function inputPtr(): usize { return changetype<usize>(input); }
/** Where results are written. */
export function outputPtr(): usize { return changetype<usize>(output); }

function put(b: Uint8Array | null): i32 {
  if (b === null) return -1;
  memory.copy(changetype<usize>(output), b.dataStart, <usize>b.length);
  return b.length;
}

/** input[0:jsonLen] is a JSON document, input[jsonLen:jsonLen+keyLen] an ASCII key. */
function args(jsonLen: i32, keyLen: i32, raw: bool): i32 {
  const doc = new Uint8Array(jsonLen);
  memory.copy(doc.dataStart, changetype<usize>(input), <usize>jsonLen);
  const key = String.UTF8.decodeUnsafe(changetype<usize>(input) + <usize>jsonLen, <usize>keyLen);
  return put(raw ? sluice.jsonValue(doc, key) : sluice.jsonString(doc, key));
}

export function json_string(jsonLen: i32, keyLen: i32): i32 { return args(jsonLen, keyLen, false); }
export function json_value(jsonLen: i32, keyLen: i32): i32 { return args(jsonLen, keyLen, true); }

/** input[0:hayLen] is searched for input[hayLen:hayLen+needleLen] from `from`. */
export function index_of(hayLen: i32, needleLen: i32, from: i32): i32 {
  const all = new Uint8Array(hayLen + needleLen);
  memory.copy(all.dataStart, changetype<usize>(input), <usize>(hayLen + needleLen));
  return sluice.indexOf(all.subarray(0, hayLen), all.subarray(hayLen), from);
}

/** indexOfByte over input[0:hayLen]. */
export function index_of_byte(hayLen: i32, c: u8, from: i32): i32 {
  const hay = new Uint8Array(hayLen);
  memory.copy(hay.dataStart, changetype<usize>(input), <usize>hayLen);
  return sluice.indexOfByte(hay, c, from);
}

export function sluice_on_mail(): i32 {
  // info in both forms, and the envelope change of the mail phase.
  const from = sluice.infoString(sluice.InfoKey.MailFrom)!;
  sluice.setTag("from.string", from);
  sluice.setTag("phase", sluice.info(sluice.InfoKey.Phase)!);
  if (sluice.info(sluice.InfoKey.Rcpt) === null) sluice.setTag("rcpt.absent", "yes");
  if (from == "rewrite@example.org") sluice.setMailFrom("new@example.org");
  sluice.logInfo("mail from " + from);
  return sluice.Verdict.Continue;
}

export function sluice_on_data(): i32 {
  // A value longer than the SDK's 4 KiB buffer takes the retry path.
  const big = sluice.header("X-Big");
  if (big !== null) {
    sluice.setTag("big.len", big.length.toString());
    sluice.addHeader("X-Big-Copy", big);
  }
  // 8-bit bytes survive a round trip as bytes.
  const raw = sluice.findHeader("X-Raw");
  if (raw >= 0) sluice.changeHeader(raw, sluice.headerValue(raw)!);
  // A string argument longer than the staging buffers (folded: lines <= 998).
  let long = "a".repeat(100);
  for (let i = 0; i < 19; i++) long += "\r\n " + "a".repeat(100);
  sluice.addHeader("X-Long", long);
  // Tags in and out, envelope in data.
  const t = sluice.tag("t.in");
  if (t !== null) sluice.setTag("t.out", t);
  if (sluice.tag("t.missing") === null) sluice.setTag("t.missing.null", "yes");
  sluice.setTag("rcpt0", sluice.rcpt(0)!);
  if (sluice.rcpt(sluice.rcptCount()) === null) sluice.setTag("rcpt.past.end", "null");
  sluice.addRcpt("added@example.net");
  if (!sluice.removeRcpt("nobody@example.net")) sluice.setTag("remove.absent", "false");
  // Out-of-range header operations report false instead of trapping.
  const n = sluice.headerCount();
  if (!sluice.changeHeader(n, "x") && !sluice.deleteHeader(n) && !sluice.insertHeader(n + 1, "X-No", "x")) {
    sluice.setTag("range", "false");
  }
  if (sluice.bodyRead(sluice.bodySize() + 1, new Uint8Array(8)) == sluice.NOT_FOUND) sluice.setTag("body.past.end", "-1");
  const subj = sluice.findHeader("subject");
  if (subj >= 0 && sluice.equalsAsciiFold(sluice.headerName(subj), "SUBJECT")) {
    sluice.setTag("subject", sluice.headerValueString(subj)!);
  }
  // bodyIndexOf through a small buffer, so matches straddle chunks.
  const find = sluice.header("X-Find");
  if (find !== null) sluice.setTag("find", sluice.bodyIndexOf(find, new Uint8Array(16)).toString());
  if (sluice.findHeader("X-Tempfail") >= 0) return sluice.tempfail(451, "4.7.0", "later");
  if (sluice.findHeader("X-Quarantine") >= 0) return sluice.quarantine("suspicious");
  return sluice.Verdict.Continue;
}
