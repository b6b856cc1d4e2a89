// Command stage: starts the command line from its bundle, dist/kspec.cjs (scripts/bundle.ts), with the V8 code cache
// that the build trained beside it (scripts/code-cache.ts): V8 then neither parses nor compiles again the functions
// a run uses. Measured on check of the 6.12 tree: 214 -> 198 ms (interleaved A/B, 31 rounds).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import vm = require("node:vm");
import type { main } from "./main.js";

type Main = typeof main;

const DIST = join(__dirname, "..");
export const BUNDLE = join(DIST, "kspec.cjs");
/** The code cache: the build id of the bundle it was made from, a newline, then V8's data. */
export const CODE_CACHE = join(DIST, "kspec.cjs.v8cache");
/** Written by the build after the bundle (scripts/build-spec-cache.ts): a hash of the compiled code. */
const BUILD_ID = join(DIST, "build-id");

export interface Launched {
  main: Main;
  /** The compiled bundle (to make a code cache from). */
  script: vm.Script;
  /** Whether V8 took the code cache: "used", "rejected" (another V8, other flags), or "none" (none matched). */
  codeCache: "used" | "rejected" | "none";
}

/**
 * The cache's data if it was made from this bundle. V8 checks a cache against the source's length only, not its
 * text: a cache left from another build of the same length would run that build's compiled functions. The build id
 * (a hash of the bundle and the modules it was made from) tells them apart.
 */
function cachedData(): Buffer | undefined {
  try {
    const id = readFileSync(BUILD_ID);
    const cache = readFileSync(CODE_CACHE);
    return cache.length > id.length && cache.subarray(0, id.length).equals(id)
      ? cache.subarray(id.length)
      : undefined;
  } catch {
    return undefined;
  }
}

export function launch(): Launched {
  const data = cachedData();
  // The wrapper Node's loader puts around a CommonJS file, on the bundle's first line (its line numbers stay).
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(BUNDLE, "utf8")}\n})`;
  const script = new vm.Script(source, { filename: BUNDLE, cachedData: data });
  const module = { exports: {} as { main: Main } };
  (script.runInThisContext() as (...a: unknown[]) => void)(
    module.exports,
    createRequire(BUNDLE),
    module,
    BUNDLE,
    DIST,
  );
  const codeCache = !data ? "none" : script.cachedDataRejected ? "rejected" : "used";
  return { main: module.exports.main, script, codeCache };
}
