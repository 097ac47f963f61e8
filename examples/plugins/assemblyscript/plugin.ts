// The AssemblyScript example filter (sdk/CONFORMANCE.md §1).
//
// - data: adds X-Example-Lang: assemblyscript, then X-Example-Greeting with
//   the `greeting` string from the plugin's config ("hello" if absent);
// - rcpt: rejects a recipient whose local part is exactly "blocked".
//
// Build: ./build.sh example.wasm (see sdk/assemblyscript/README.md).

import * as sluice from "../../../sdk/assemblyscript/assembly/sluice";

// Every plugin re-exports the ABI version; the hooks below are its other exports.
export { sluice_abi_version } from "../../../sdk/assemblyscript/assembly/sluice";

/** The greeting from the configuration, parsed once per instance. */
let greeting: Uint8Array = sluice.bytes("hello");

/** Reads the configuration once, before any hook. Non-zero refuses it. */
export function sluice_configure(): i32 {
  const g = sluice.configString("greeting");
  if (g === null) return 0; // absent or not a string: keep "hello"
  for (let i = 0; i < g.length; i++) {
    const c = g[i];
    if (c == 0x0d || c == 0x0a || c == 0) {
      sluice.logError("greeting: must not contain CR, LF or NUL");
      return 1;
    }
  }
  greeting = g;
  return 0;
}

export function sluice_on_data(): i32 {
  sluice.addHeader("X-Example-Lang", "assemblyscript");
  sluice.addHeader("X-Example-Greeting", greeting);
  return sluice.Verdict.Continue;
}

export function sluice_on_rcpt(): i32 {
  const to = sluice.info(sluice.InfoKey.Rcpt);
  if (to !== null && sluice.equalsAscii(sluice.localPart(to), "blocked")) {
    return sluice.reject(550, "5.7.1", "Recipient blocked by the assemblyscript example");
  }
  return sluice.Verdict.Continue;
}
