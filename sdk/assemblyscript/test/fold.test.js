// The mock host folds header fields as the gateway does (sdk/ABI.md §4.4,
// "the 998-byte line rule") instead of trapping on a long line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { foldHeaderValue } from "../testing/host.js";

const name = Buffer.from("Subject");
const unfold = (b) => Buffer.from(b).toString("latin1").replaceAll("\r\n", "");

test("long values are folded at whitespace, unfolded value unchanged", () => {
  const words = "word ".repeat(299) + "word"; // 1499 bytes
  const got = foldHeaderValue(name, Buffer.from("[EXT] " + words)).toString("latin1");
  assert.equal(got, "[EXT] " + words.slice(0, 979) + "\r\n" + words.slice(979));
  const cont = "hi\r\n " + words;
  assert.equal(foldHeaderValue(name, Buffer.from(cont)).toString("latin1"),
    "hi\r\n " + words.slice(0, 994) + "\r\n" + words.slice(994));
  for (const v of [words, cont, "x".repeat(3000) + " y " + words]) {
    const f = foldHeaderValue(name, Buffer.from(v));
    assert.equal(unfold(f), unfold(v));
    for (const line of ("Subject: " + f.toString("latin1")).split("\r\n")) {
      if (line.length > 998) assert.ok(!/\S\s+\S/.test(line.slice(9, 999)), "a fold point was left");
    }
  }
});

test("short values and single long words are kept", () => {
  assert.equal(foldHeaderValue(name, Buffer.from("short")).toString(), "short");
  const word = "w".repeat(1500);
  assert.equal(foldHeaderValue(name, Buffer.from(word)).toString(), word);
});
