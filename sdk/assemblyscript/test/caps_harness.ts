// A plugin that exercises the capability functions of capabilities.ts,
// driven by test/caps.test.js: each hook writes what it saw into tags. Not
// an example to copy.

import * as sluice from "../assembly/sluice";
import * as caps from "../assembly/capabilities";

export { sluice_abi_version } from "../assembly/sluice";

function orNull(s: string | null): string {
  return s === null ? "null" : s;
}

/** The key/value store and the DKIM key list. */
export function sluice_on_connect(): i32 {
  sluice.setTag("kv.before", orNull(caps.kvGetString("greylist")));
  caps.kvSet("greylist", "first");
  sluice.setTag("kv.after", orNull(caps.kvGetString("greylist")));
  const bin = new Uint8Array(3);
  bin[0] = 0x61; bin[2] = 0xff;
  caps.kvSet(sluice.bytes("bin"), bin, 0);
  const back = caps.kvGet("bin");
  sluice.setTag("kv.bin", sluice.equalBytes(back, bin) ? "same" : "differs");
  const a = caps.kvIncr("rate", 1, 1000);
  const b = caps.kvIncr("rate", 5);
  const c = caps.kvIncr("rate", -10);
  sluice.setTag("kv.incr", a.toString() + "," + b.toString() + "," + c.toString());
  sluice.setTag("kv.big", caps.kvIncr("big", 7).toString());
  sluice.setTag("kv.delete", caps.kvDelete("greylist").toString() + "," + caps.kvDelete("greylist").toString());
  const keys = caps.dkimKeys();
  let list = keys.length.toString();
  for (let i = 0; i < keys.length; i++) {
    list += ";" + keys[i].name + "," + keys[i].domain + "," + keys[i].selector + "," + keys[i].algorithm;
  }
  sluice.setTag("dkim.keys", list);
  return sluice.Verdict.Continue;
}

function answer(a: caps.DnsAnswer): string {
  if (a.temporary) return "temporary";
  if (a.notFound) return "notfound";
  return "ok:" + a.records.join("|");
}

/** DNS lookups. */
export function sluice_on_helo(): i32 {
  sluice.setTag("dns.txt", answer(caps.dnsLookup("txt", "Example.ORG.")));
  sluice.setTag("dns.a", answer(caps.dnsLookup("A", sluice.bytes("mx.example.org"))));
  sluice.setTag("dns.aaaa", answer(caps.dnsLookup("AAAA", "mx.example.org")));
  sluice.setTag("dns.slow", answer(caps.dnsLookup("MX", "slow.example")));
  return sluice.Verdict.Continue;
}

/** auth_check in mail: DMARC is too early, SPF is not. */
export function sluice_on_mail(): i32 {
  const early = caps.authCheck(caps.AuthCheck.DMARC);
  const before = caps.authValue("spf.result");
  const spf = caps.authCheck(caps.AuthCheck.SPF);
  sluice.setTag("auth.mail", early.toString() + "," + orNull(before) + "," + spf.toString() + "," +
    orNull(caps.authValue("spf.result")) + "," + orNull(caps.authValue("dkim.count")));
  return sluice.Verdict.Continue;
}

/** X-Test: auth reads every check; X-Test: dkim signs with the options in X-Opts. */
export function sluice_on_data(): i32 {
  const what = sluice.header("X-Test");
  if (sluice.equalsAscii(what, "auth")) {
    const before = caps.authValue("spf.result");
    const ran = caps.authCheck(caps.AuthCheck.DMARC);
    sluice.setTag("auth.data", orNull(before) + "," + ran.toString() + "," + orNull(caps.authValue("dkim.0.result")) + "," +
      orNull(caps.authValue("dmarc.pct")) + "," + orNull(caps.authValue("dmarc.nope")));
    sluice.setTag("auth.json", orNull(caps.authCheckJSON(caps.AuthCheck.SPF | caps.AuthCheck.DKIM)));
  } else if (sluice.equalsAscii(what, "scan")) {
    const before = caps.scanValue("action");
    const ok = caps.scan("spam");
    sluice.setTag("scan.spam", orNull(before) + "," + ok.toString() + "," + orNull(caps.scanValue("action")) + "," +
      orNull(caps.scanValue("symbols.0.name")) + "," + orNull(caps.scanValue("nope")));
    sluice.setTag("scan.json", orNull(caps.scanJSON("spam")));
    const down = caps.scan("virus");
    sluice.setTag("scan.virus", down.toString() + "," + orNull(caps.scanValue("error")));
  } else if (sluice.equalsAscii(what, "scan-other")) {
    caps.scan("other");
  } else if (sluice.equalsAscii(what, "dkim")) {
    const opts = sluice.header("X-Opts");
    const r = caps.dkimSign("main", opts === null ? "" : sluice.str(opts));
    sluice.setTag("dkim.sign", r.ok ? "ok" : "refused:" + r.reason);
  } else if (sluice.equalsAscii(what, "quota")) {
    const v = "v".repeat(100);
    const set = caps.kvSet("a", v).toString() + "," + caps.kvSet("b", v).toString() + "," + caps.kvSet("c", v).toString();
    const n = caps.kvIncr("n", 1);
    const refusedN = caps.kvQuotaExceeded();
    const a = caps.kvIncr("a", -4);
    sluice.setTag("kv.quota", set + ";" + n.toString() + "," + refusedN.toString() + ";" + a.toString() + "," + caps.kvQuotaExceeded().toString());
  } else if (sluice.equalsAscii(what, "down")) {
    // Each call, then whether it was the store (TEMPERROR) or the key.
    let out = orNull(caps.kvGetString("seen")) + "," + caps.kvUnavailable().toString();
    out += ";" + orNull(caps.kvGetString("absent")) + "," + caps.kvUnavailable().toString();
    out += ";" + caps.kvSet("k", "v").toString() + "," + caps.kvUnavailable().toString() + "," + caps.kvQuotaExceeded().toString();
    out += ";" + caps.kvIncr("n", 0).toString() + "," + caps.kvUnavailable().toString();
    out += ";" + caps.kvDelete("seen").toString() + "," + caps.kvUnavailable().toString();
    sluice.setTag("kv.down", out);
  } else if (sluice.equalsAscii(what, "dkim-other")) {
    caps.kvSet("kept", "yes");
    caps.dkimSign("other"); // traps: not granted
  }
  return sluice.Verdict.Continue;
}
