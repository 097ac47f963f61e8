// The conformance probe (sdk/CONFORMANCE.md §2), compiled and run in the test
// host. The Go suite runs the same module through the real gateway; these
// tests catch a broken probe before that.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestHost, Verdict, fnv1a } from "../testing/host.js";
import { probeWasm } from "./build.js";

const wasm = probeWasm();

test("connect, helo and mail tag what they saw", () => {
  const h = new TestHost(wasm, { info: { "client.ip": "2001:db8::1" } });
  assert.equal(h.connect().verdict, Verdict.Continue);
  assert.equal(h.helo("client.example.com").verdict, Verdict.Continue);
  assert.equal(h.mail("someone@example.org").verdict, Verdict.Continue);
  assert.deepEqual(h.tags(), {
    "probe.connect": "2001:db8::1", "probe.helo": "client.example.com", "probe.mail": "someone@example.org",
  });
});

test("mail: every verdict and every reply error", () => {
  const cases = {
    reject: { verdict: Verdict.Reject, reply: "550 5.7.1 probe reject" },
    tempfail: { verdict: Verdict.Tempfail, reply: "451 4.7.1 probe tempfail" },
    accept: { verdict: Verdict.Accept, reply: null },
    discard: { verdict: Verdict.Discard, reply: null },
    quarantine: { verdict: Verdict.Quarantine, reply: "550 5.7.1 probe quarantine" },
    other: { verdict: Verdict.Continue, reply: null },
    badverdict: { error: /returned 7/ },
    badreply: { error: /reply code 250/ },
    crlfreply: { error: /printable ASCII/ },
    mismatch: { error: /verdict 2 with a 4xx reply/ },
    trap: { error: /plugin aborted: probe trap \(probe\.ts:\d+:\d+\)/ },
  };
  for (const [local, want] of Object.entries(cases)) {
    const h = new TestHost(wasm);
    const r = h.mail(`${local}@example.org`);
    if (want.error) {
      assert.equal(r.verdict, null, local);
      assert.match(r.error, want.error, local);
      assert.equal(h.tags()["probe.mail"], undefined, `${local}: the failed call's tag is rolled back`);
      assert.equal(h.mail("again@example.org").verdict, Verdict.Continue, `${local}: a new instance serves the next call`);
      assert.equal(h.instances, 2, local);
    } else {
      assert.deepEqual({ verdict: r.verdict, reply: r.reply, error: r.error }, { ...want, error: null }, local);
      assert.equal(h.tags()["probe.mail"], `${local}@example.org`);
    }
  }
});

test("mail: the null sender and a local part without @", () => {
  const h = new TestHost(wasm);
  assert.equal(h.mail("").verdict, Verdict.Continue);
  assert.equal(h.tags()["probe.mail"], "");
  assert.equal(h.mail("reject").verdict, Verdict.Reject);
});

test("rcpt counts accepted recipients and rejects blocked", () => {
  const h = new TestHost(wasm);
  h.mail("a@example.org");
  assert.equal(h.rcpt("one@example.net").verdict, Verdict.Continue);
  assert.equal(h.tags()["probe.rcpt.count"], "0");
  assert.deepEqual(h.rcpt("blocked@example.net"), { called: true, verdict: Verdict.Reject, reply: "550 5.7.1 probe blocked", error: null });
  assert.equal(h.tags()["probe.rcpt.count"], "1");
  h.rcpt("two@example.net");
  assert.equal(h.tags()["probe.rcpt.count"], "1");
  h.rcpt("three@example.net");
  assert.equal(h.tags()["probe.rcpt.count"], "2");
});

test("data: hashes, config and mutations", () => {
  const config = '{"greeting":"hi","nested":{"a":[1,2,{"b":"\\u00e9"}]},"n":1.5e3}';
  const h = new TestHost(wasm, { config });
  h.setEnvelope("a@example.org", "b@example.net");
  const fields = [
    ["Received", "from x\r\n\tby y"],
    ["Subject", "first"],
    ["X-Probe-Delete", "gone"],
    ["SUBJECT", "second \xe9"], // 8-bit, latin1
    ["X-Probe-Change", "old"],
    ["X-Probe-Body", "yes"],
  ];
  const raw = Buffer.concat([
    ...fields.map(([n, v]) => Buffer.from(`${n}: ${v}\r\n`, "latin1")),
    Buffer.from("\r\nline one\r\n..dot\r\n"),
  ]);
  assert.equal(h.data(raw).verdict, Verdict.Continue);
  const tags = h.tags();
  assert.equal(tags["probe.header.count"], "6");
  assert.equal(tags["probe.headers"], fnv1a(...fields.map(([n, v]) => Buffer.from(`${n}:${v}\n`, "latin1"))));
  assert.equal(Object.keys(tags).length, 7);
  assert.deepEqual(h.txTags.get("probe.subject2"), Buffer.from("second \xe9", "latin1"));
  assert.equal(tags["probe.body.len"], "17");
  assert.equal(tags["probe.body.sum"], fnv1a("line one\r\n..dot\r\n"));
  assert.equal(tags["probe.config.len"], String(Buffer.byteLength(config)));
  assert.equal(tags["probe.config.sum"], fnv1a(config));
  assert.equal(h.message().toString("latin1"),
    "X-Probe-Top: 1\r\nReceived: from x\r\n\tby y\r\nSubject: first\r\nSUBJECT: second \xe9\r\n" +
    "X-Probe-Change: changed\r\nX-Probe-Body: yes\r\nX-Probe: assemblyscript\r\n\r\nreplaced\r\nappended\r\n");
});

test("data: without the X-Probe-* fields only the two headers are added", () => {
  const h = new TestHost(wasm);
  h.data("Subject: x\n\nbody\n");
  assert.equal(h.message().toString(), "X-Probe-Top: 1\r\nSubject: x\r\nX-Probe: assemblyscript\r\n\r\nbody\r\n");
  assert.equal(h.tags()["probe.subject2"], undefined);
});

test("data: a 10 MiB body is hashed in chunks with little memory growth", () => {
  const h = new TestHost(wasm);
  const line = Buffer.from("x".repeat(78) + "\r\n");
  const body = Buffer.concat(Array(Math.ceil((10 << 20) / line.length)).fill(line)).subarray(0, 10 << 20);
  const raw = Buffer.concat([Buffer.from("Subject: big\r\n\r\n"), body.subarray(0, body.length - 2), Buffer.from("\r\n")]);
  h.data("Subject: warm\n\nup\n");
  const before = h.memoryBytes();
  assert.equal(h.data(raw).error, null);
  assert.equal(h.tags()["probe.body.len"], String(10 << 20));
  assert.equal(h.tags()["probe.body.sum"], fnv1a(raw.subarray(16)));
  assert.ok(h.memoryBytes() - before < 4 << 20, `memory grew by ${h.memoryBytes() - before} bytes`);
});

test("memory stays flat over 10,000 messages through one instance", () => {
  const h = new TestHost(wasm, { config: { greeting: "hi" } });
  const msg = "Subject: a\nsubject: b\nX-Probe-Change: c\nX-Probe-Body: 1\n\n" + "body line\n".repeat(100);
  const run = (n) => {
    for (let i = 0; i < n; i++) {
      h.setEnvelope("a@example.org", "b@example.net");
      assert.equal(h.data(msg).error, null);
    }
  };
  run(1000);
  const warm = h.memoryBytes();
  run(9000);
  assert.equal(h.memoryBytes(), warm);
  assert.equal(h.instances, 1);
});
