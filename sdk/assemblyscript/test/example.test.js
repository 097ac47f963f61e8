// The example filter (sdk/CONFORMANCE.md §1), compiled and run in the test host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestHost, Verdict } from "../testing/host.js";
import { exampleWasm } from "./build.js";

const wasm = exampleWasm();
const MSG = "From: a@example.org\nSubject: hi\n\nHello\n";

test("imports only sluice functions and env.abort", () => {
  for (const imp of WebAssembly.Module.imports(new WebAssembly.Module(wasm))) {
    assert.ok(imp.module === "sluice" || (imp.module === "env" && imp.name === "abort"), `${imp.module}.${imp.name}`);
  }
});

test("data adds the language, then the configured greeting", () => {
  const h = new TestHost(wasm, { config: { greeting: "hi there", other: { greeting: "nested" } } });
  h.setEnvelope("a@example.org", "b@example.net");
  const r = h.data(MSG);
  assert.deepEqual(r, { called: true, verdict: Verdict.Continue, reply: null, error: null });
  assert.equal(h.message().toString(),
    "From: a@example.org\r\nSubject: hi\r\nX-Example-Lang: assemblyscript\r\nX-Example-Greeting: hi there\r\n\r\nHello\r\n");
});

test("the greeting defaults to hello when absent or not a string", () => {
  for (const config of [undefined, {}, { greeting: 42 }, { nested: { greeting: "x" } }]) {
    const h = new TestHost(wasm, { config });
    h.data(MSG);
    assert.deepEqual(h.headerValues("X-Example-Greeting"), ["hello"], JSON.stringify(config));
  }
});

test("JSON escapes in the greeting are decoded", () => {
  const h = new TestHost(wasm, { config: '{"greeting": "caf\\u00e9 \\"x\\""}' });
  h.data(MSG);
  assert.deepEqual(h.headerValues("X-Example-Greeting"), ['café "x"']);
});

test("a greeting with CR or LF refuses the configuration", () => {
  assert.throws(() => new TestHost(wasm, { config: { greeting: "a\r\nBcc: x" } }), /refused its configuration.*CR, LF/);
});

test("rcpt rejects exactly the local part blocked", () => {
  const h = new TestHost(wasm);
  h.mail("a@example.org");
  assert.deepEqual(h.rcpt("blocked@example.net"), {
    called: true, verdict: Verdict.Reject, reply: "550 5.7.1 Recipient blocked by the assemblyscript example", error: null,
  });
  for (const to of ["Blocked@example.net", "blocked2@example.net", "a@blocked", "blocked@x@example.net", "unblocked@example.net"]) {
    assert.equal(h.rcpt(to).verdict, Verdict.Continue, to);
  }
  assert.equal(h.rcpt("x@blocked@example.net").verdict, Verdict.Continue);
  assert.deepEqual(h.recipients().length, 6);
});

test("only rcpt and data are hooks", () => {
  const h = new TestHost(wasm);
  assert.equal(h.connect().called, false);
  assert.equal(h.helo().called, false);
  assert.equal(h.mail("a@example.org").called, false);
});
