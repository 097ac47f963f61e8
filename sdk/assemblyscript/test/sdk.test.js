// SDK functions that the example and the probe leave out, through
// test/harness.ts: the JSON reader, values longer than the SDK's buffer,
// 8-bit bytes, tags, envelope changes and out-of-range results.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestHost, Verdict } from "../testing/host.js";
import { harnessWasm } from "./build.js";

const wasm = harnessWasm();

/** Calls the harness's json_string or json_value on doc and key. */
function json(fn, doc, key) {
  const h = new TestHost(wasm);
  const ex = h.instance.exports;
  const d = Buffer.from(doc, "utf8");
  const k = Buffer.from(key, "utf8");
  new Uint8Array(ex.memory.buffer, ex.inputPtr(), d.length + k.length).set(Buffer.concat([d, k]));
  const n = ex[fn](d.length, k.length);
  return n < 0 ? null : Buffer.from(new Uint8Array(ex.memory.buffer, ex.outputPtr(), n)).toString("utf8");
}

test("jsonString finds top-level strings and decodes escapes", () => {
  const cases = [
    ['{"a":"x"}', "a", "x"],
    [' {\n "a" : "x" ,"b":"y"}\n', "b", "y"],
    ['{"n":{"a":"inner"},"a":"outer"}', "a", "outer"],
    ['{"l":["a","}",{"a":1}],"a":"after"}', "a", "after"],
    ['{"s":"\\"a\\":\\"no\\"","a":"yes"}', "a", "yes"],
    ['{"a":"q\\"\\\\\\/\\b\\f\\n\\r\\t"}', "a", 'q"\\/\b\f\n\r\t'],
    ['{"a":"\\u00e9\\u20ac\\ud83d\\ude00"}', "a", "é€😀"],
    ['{"a":"\\ud800x"}', "a", "\ufffdx"],
    ['{"a":"raw é"}', "a", "raw é"],
    ['{"a":"first","a":"second"}', "a", "first"],
    ['{"a":""}', "a", ""],
  ];
  for (const [doc, key, want] of cases) assert.equal(json("json_string", doc, key), want, doc);
});

test("jsonString returns null for absent keys, other types and malformed JSON", () => {
  const cases = [
    ['{}', "a"], ['{"b":"x"}', "a"], ['{"n":{"a":"x"}}', "a"], ['{"a":1}', "a"], ['{"a":null}', "a"],
    ['{"a":{"x":"y"}}', "a"], ['["a","x"]', "a"], ['{"a":"x', "a"], ['{"a" "x"}', "a"], ['', "a"],
    ['{"b":"x" "a":"y"}', "a"], ['{"a":"bad \\q escape"}', "a"], ['{"gr\\u0065eting":"x"}', "greeting"],
  ];
  for (const [doc, key] of cases) assert.equal(json("json_string", doc, key), null, doc);
});

test("jsonValue returns the raw text of any value", () => {
  const doc = '{"s":"a\\n","n":-1.5e3,"t":true,"z":null,"o":{"a":[1,"]"]},"l":[ ]}';
  assert.equal(json("json_value", doc, "s"), '"a\\n"');
  assert.equal(json("json_value", doc, "n"), "-1.5e3");
  assert.equal(json("json_value", doc, "t"), "true");
  assert.equal(json("json_value", doc, "z"), "null");
  assert.equal(json("json_value", doc, "o"), '{"a":[1,"]"]}');
  assert.equal(json("json_value", doc, "l"), "[ ]");
  assert.equal(json("json_value", doc, "missing"), null);
});

test("mail: info as bytes and string, phase, absent keys, mail_set, log", () => {
  const h = new TestHost(wasm);
  assert.equal(h.mail("rewrite@example.org").verdict, Verdict.Continue);
  assert.deepEqual(h.tags(), { "from.string": "rewrite@example.org", phase: "mail", "rcpt.absent": "yes" });
  assert.equal(h.mailFrom.toString(), "new@example.org");
  assert.deepEqual(h.logs, [{ level: 1, text: "mail from rewrite@example.org" }]);
});

test("data: long values, 8-bit bytes, tags, envelope and range checks", () => {
  const h = new TestHost(wasm);
  h.setEnvelope("a@example.org", "b@example.net");
  h.txTags.set("t.in", Buffer.from("tag value"));
  const big = Array.from({ length: 100 }, (_, i) => `part${i} `.repeat(10)).join("\r\n ");
  const raw = Buffer.concat([
    Buffer.from(`Subject: s\r\nX-Big: ${big}\r\n`),
    Buffer.from("X-Raw: \xff\xfe caf\xe9\r\n", "latin1"),
    Buffer.from("\r\nbody\r\n"),
  ]);
  assert.ok(big.length > 4096);
  const r = h.data(raw);
  assert.equal(r.error, null);
  assert.equal(r.verdict, Verdict.Continue);
  const tags = h.tags();
  assert.equal(tags["big.len"], String(big.length));
  assert.deepEqual(h.headerValues("X-Big-Copy"), [big]);
  assert.deepEqual(h.fields.find((f) => f.name.toString() === "X-Raw").value, Buffer.from("\xff\xfe caf\xe9", "latin1"));
  assert.deepEqual(h.headerValues("X-Long"), [Array(20).fill("a".repeat(100)).join("\r\n ")]);
  assert.equal(tags["t.out"], "tag value");
  assert.equal(tags["t.missing.null"], "yes");
  assert.equal(tags.rcpt0, "b@example.net");
  assert.equal(tags["rcpt.past.end"], "null");
  assert.equal(tags["remove.absent"], "false");
  assert.equal(tags.range, "false");
  assert.equal(tags["body.past.end"], "-1");
  assert.equal(tags.subject, "s");
  assert.deepEqual(h.recipients(), ["b@example.net", "added@example.net"]);
});

test("data: tempfail and quarantine helpers set the reply", () => {
  let h = new TestHost(wasm);
  h.setEnvelope("a@example.org", "b@example.net");
  assert.deepEqual(h.data("X-Tempfail: 1\n\nx\n"), { called: true, verdict: Verdict.Tempfail, reply: "451 4.7.0 later", error: null });
  h = new TestHost(wasm);
  h.setEnvelope("a@example.org", "b@example.net");
  assert.deepEqual(h.data("X-Quarantine: 1\n\nx\n"), { called: true, verdict: Verdict.Quarantine, reply: "550 5.7.1 suspicious", error: null });
  // The reason goes into X-Sluice-Quarantine as the reply text, and nothing
  // is logged: the same in every SDK (sdk/ABI.md §2.1).
  assert.deepEqual(h.logs, []);
});

test("an abort is a plugin error that names the source line", () => {
  const h = new TestHost(wasm); // no envelope: rcpt(0)! fails
  assert.match(h.data("Subject: s\n\nx\n").error, /^plugin aborted: Unexpected 'null'.*\(harness\.ts:\d+:\d+\)$/);
});

test("a failed call rolls back every change", () => {
  const h = new TestHost(wasm);
  h.setEnvelope("a@example.org", "b@example.net");
  const r = h.data("Subject: s\n\nbare\rCR\n"); // the body check fails when data returns
  assert.match(r.error, /bare CR/);
  assert.deepEqual(h.headerValues("X-Long"), []);
  assert.deepEqual(h.tags(), {});
  assert.deepEqual(h.recipients(), ["b@example.net"]);
});

test("indexOf and indexOfByte find the first match at or after from", () => {
  const h = new TestHost(wasm);
  const ex = h.instance.exports;
  const put = (b) => new Uint8Array(ex.memory.buffer, ex.inputPtr(), b.length).set(b);
  const hay = Buffer.from("0123456789abcdef0123456789abcdefXYZ\xff", "latin1");
  put(hay);
  for (let from = 0; from < hay.length + 2; from++) {
    for (const c of [0x30, 0x37, 0x66, 0x5a, 0xff, 0x00]) {
      const want = from > hay.length ? -1 : hay.indexOf(c, from);
      assert.equal(ex.index_of_byte(hay.length, c, from), want, `byte ${c} from ${from}`);
    }
  }
  for (const needle of ["0123", "def0", "XYZ\xff", "Z\xff", "fX", "nope", "9abcdefXYZ", "\xff"]) {
    const nb = Buffer.from(needle, "latin1");
    put(Buffer.concat([hay, nb]));
    for (let from = 0; from <= hay.length; from++) {
      assert.equal(ex.index_of(hay.length, nb.length, from), hay.indexOf(nb, from), `${needle} from ${from}`);
    }
  }
});

test("bodyIndexOf finds matches across chunk boundaries", () => {
  const body = "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ\r\n";
  for (const needle of ["0123", "cdefghij", "fghijklmnopqrstu", "ABCDEFGHIJ", "J\r\n", "xyz0", "nope", "z0123456789ABCDE"]) {
    const h = new TestHost(wasm);
    h.setEnvelope("a@example.org", "b@example.net");
    const r = h.data(`X-Find: ${needle.replace("\r\n", "")}\r\n\r\n${body}`);
    assert.equal(r.error, null, needle);
    assert.equal(h.tags().find, String(body.indexOf(needle.replace("\r\n", ""))), needle);
  }
});
