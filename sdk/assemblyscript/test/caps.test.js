// The capability functions of assembly/capabilities.ts (sdk/ABI.md §4.8 to
// §4.11) through test/caps_harness.ts and the test host, and the import
// sections: only a module that calls them imports them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestHost, Verdict } from "../testing/host.js";
import { capsHarnessWasm, exampleWasm, harnessWasm, probeWasm } from "./build.js";

const wasm = capsHarnessWasm();
const CAPS = ["kv_get", "kv_set", "kv_incr", "kv_delete", "dns_lookup", "dkim_sign", "auth_check", "auth_value", "scan", "scan_value"];

/** The capability functions a module imports, sorted. */
function capImports(bytes) {
  return WebAssembly.Module.imports(new WebAssembly.Module(bytes))
    .filter((i) => i.module === "sluice" && CAPS.includes(i.name)).map((i) => i.name).sort();
}

test("only a module that calls capability functions imports them", () => {
  assert.deepEqual(capImports(exampleWasm()), []);
  assert.deepEqual(capImports(probeWasm()), []);
  assert.deepEqual(capImports(harnessWasm()), []);
  assert.deepEqual(capImports(wasm), [...CAPS].sort());
});

test("kv: round trip, incr window, saturation, delete; writes survive a failed call", () => {
  const h = new TestHost(wasm);
  h.setKV("big", "2147483647");
  const r = h.connect();
  assert.equal(r.error, null);
  const tags = h.tags();
  assert.equal(tags["kv.before"], "null");
  assert.equal(tags["kv.after"], "first");
  assert.equal(tags["kv.bin"], "same");
  assert.equal(tags["kv.incr"], "1,6,-4");
  assert.equal(tags["kv.big"], "2147483647");
  assert.equal(h.kvValue("big").toString(), "2147483654");
  assert.equal(tags["kv.delete"], "true,false");
  assert.equal(h.kvValue("rate").toString(), "-4");
  h.advance(999);
  assert.notEqual(h.kvValue("rate"), null);
  h.advance(1);
  assert.equal(h.kvValue("rate"), null, "the window of the first kvIncr ended");

  // A failed call keeps its store writes: the store is outside the transaction.
  h.setEnvelope("a@example.org", "b@example.net");
  const bad = h.data("From: a@example.org\nX-Test: dkim-other\n\nx\n"); // kvSet, then a trap
  assert.match(bad.error, /not granted/);
  assert.equal(h.kvValue("kept").toString(), "yes");
});

test("kv: a write past the quota is refused with QUOTA, not a trap", () => {
  const h = new TestHost(wasm);
  h.setKvQuota(2 * (128 + 1 + 100));
  h.setEnvelope("a@example.org", "b@example.net");
  const r = h.data("From: a@example.org\nX-Test: quota\n\nx\n");
  assert.equal(r.error, null);
  // a and b fit, c does not; a new counter does not; a counter at -4 is a value.
  assert.equal(h.tags()["kv.quota"], "true,true,false;-4,true;-4,false");
  assert.equal(h.kvValue("c"), null);
  assert.ok(h.kvUsage() <= 2 * (128 + 1 + 100));
});

test("kv: a store that is down answers TEMPERROR, told apart from absence", () => {
  const h = new TestHost(wasm);
  h.setKV("seen", "1");
  h.setKV("n", "-2"); // a counter whose value is TEMPERROR's number
  h.setEnvelope("a@example.org", "b@example.net");
  h.setKvDown(true);
  let r = h.data("From: a@example.org\nX-Test: down\n\nx\n");
  assert.equal(r.error, null);
  assert.equal(h.tags()["kv.down"], "null,true;null,true;false,true,false;-2,true;false,true");
  assert.equal(h.kvValue("k"), null, "nothing is written while down");

  // Back up: the keys are there; absence, a -2 counter and a delete are what they are.
  h.setKvDown(false);
  r = h.data("From: a@example.org\nX-Test: down\n\nx\n");
  assert.equal(r.error, null);
  assert.equal(h.tags()["kv.down"], "1,false;null,false;true,false,false;-2,false;true,false");
  assert.equal(h.kvValue("seen"), null);
});

test("dns: records split on newline, not found vs temporary", () => {
  const h = new TestHost(wasm);
  h.setDNS("TXT", "example.org", "v=spf1 -all", "hello world");
  h.setDNS("a", "MX.example.org.", "192.0.2.7");
  h.setDNSTemporary("MX", "slow.example");
  assert.equal(h.helo("client.example").error, null);
  const tags = h.tags();
  assert.equal(tags["dns.txt"], "ok:v=spf1 -all|hello world");
  assert.equal(tags["dns.a"], "ok:192.0.2.7");
  assert.equal(tags["dns.aaaa"], "notfound");
  assert.equal(tags["dns.slow"], "temporary");
});

test("auth: authValue only after authCheck in the same call, from the allowed phase", () => {
  const h = new TestHost(wasm);
  for (const [k, v] of Object.entries({
    "spf.result": "pass", "spf.domain": "example.org", "dkim.count": "1", "dkim.0.result": "fail",
    "dmarc.result": "fail", "dmarc.pct": "100",
  })) h.setAuth(k, v);
  assert.equal(h.mail("a@example.org").error, null);
  assert.equal(h.tags()["auth.mail"], "false,null,true,pass,null");
  h.setEnvelope("a@example.org", "b@example.net");
  assert.equal(h.data("From: a@example.org\nX-Test: auth\n\nx\n").error, null);
  const tags = h.tags();
  assert.equal(tags["auth.data"], "null,true,fail,100,null");
  assert.deepEqual(JSON.parse(tags["auth.json"]), { spf: { result: "pass", domain: "example.org" }, dkim: [{ result: "fail" }] });
});

test("dkim: key list, refusal with the host's reason, signing, ungranted key traps", () => {
  let h = new TestHost(wasm);
  assert.equal(h.connect().error, null);
  assert.equal(h.tags()["dkim.keys"], "0");

  h = new TestHost(wasm);
  h.addDKIMKey("main", "example.org", "s1", "ed25519-sha256");
  h.addDKIMKey("legacy", "example.net", "old", "rsa-sha256");
  assert.equal(h.connect().error, null);
  assert.equal(h.tags()["dkim.keys"], "2;main,example.org,s1,ed25519-sha256;legacy,example.net,old,rsa-sha256");

  h.setEnvelope("a@example.org", "b@example.net");
  let r = h.data("Subject: no from\nX-Test: dkim\n\nx\n");
  assert.equal(r.error, null);
  assert.equal(h.tags()["dkim.sign"], "refused:the message has no From field");
  assert.deepEqual(h.headerValues("DKIM-Signature"), []);

  h.setEnvelope("a@example.org", "b@example.net");
  r = h.data('From: a@example.org\nX-Test: dkim\nX-Opts: {"headers": ["Subject"]}\n\nx\n');
  assert.equal(h.tags()["dkim.sign"], "refused:headers does not include From");

  h.setEnvelope("a@example.org", "b@example.net");
  r = h.data('From: a@example.org\nX-Test: dkim\nX-Opts: {"canonicalization": "relaxed"}\n\nx\n');
  assert.equal(r.verdict, Verdict.Continue);
  assert.equal(h.tags()["dkim.sign"], "ok");
  assert.equal(h.fields[0].name.toString(), "DKIM-Signature");
  assert.match(h.fields[0].value.toString(), /d=example\.org; s=s1/);

  h.setEnvelope("a@example.org", "b@example.net");
  assert.match(h.data("From: a@example.org\nX-Test: dkim-other\n\nx\n").error, /not granted/);
});

test("scan: members, JSON, a failing scanner is TEMPERROR, an ungranted one traps", () => {
  const h = new TestHost(wasm);
  h.setScan("spam", "engine", "rspamd");
  h.setScan("spam", "action", "reject");
  h.setScan("spam", "symbols.0.name", "GTUBE");
  h.setScanError("virus", "scanner unreachable");
  h.setEnvelope("a@example.org", "b@example.net");
  const r = h.data("From: a@example.org\nX-Test: scan\n\nx\n");
  assert.equal(r.error, null);
  const tags = h.tags();
  assert.equal(tags["scan.spam"], "null,0,reject,GTUBE,null");
  assert.deepEqual(JSON.parse(tags["scan.json"]), { engine: "rspamd", action: "reject", "symbols.0.name": "GTUBE" });
  assert.equal(tags["scan.virus"], "-2,scanner unreachable");
  const bad = h.data("From: a@example.org\nX-Test: scan-other\n\nx\n");
  assert.match(bad.error, /not granted/);
});
