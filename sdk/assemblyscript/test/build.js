// Builds the modules the tests load, with the same script the Makefile uses,
// into node_modules/.cache (ignored by git). asbuild.sh skips a module that
// is up to date.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const sdk = join(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(sdk, "node_modules", ".cache", "sluice-as-test");

/** Builds entry (relative to the SDK) and returns the module bytes. */
export function build(entry, name) {
  const out = join(cache, `${name}.wasm`);
  execFileSync(join(sdk, "asbuild.sh"), [join(sdk, entry), out, dirname(join(sdk, entry))], { stdio: "inherit" });
  return readFileSync(out);
}

export const exampleWasm = () => build("../../examples/plugins/assemblyscript/plugin.ts", "example");
export const probeWasm = () => build("conformance/probe.ts", "probe");
export const harnessWasm = () => build("test/harness.ts", "harness");
export const capsHarnessWasm = () => build("test/caps_harness.ts", "caps_harness");
