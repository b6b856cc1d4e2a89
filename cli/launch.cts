// Command stage: starts the command line from its bundle, dist/kspec.cjs (scripts/bundle.ts), with the V8 code caches
// that the build trained beside it (scripts/code-cache.ts): V8 then neither parses nor compiles again the functions
// a run uses. The same for two packages: tree-sitter's JavaScript (~1 ms), and @babel/parser, which reads a user's
// policy file (~3 ms to load, not ~20). Measured on check of the 6.12 tree: 208 -> 197 ms (interleaved A/B).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import vm = require("node:vm");
import type { main, setPackageLoader } from "./main.js";

interface Bundle {
  main: typeof main;
  setPackageLoader: typeof setPackageLoader;
}

const DIST = join(__dirname, "..");
/** The bundle (made by scripts/bundle.ts, which takes its path from here). */
export const BUNDLE = join(DIST, "kspec.cjs");
/**
 * Written by the build after the bundle (scripts/build-spec-cache.ts): a hash of the compiled code. spec/root.ts
 * names it too; this CommonJS file cannot import that ES module (Node 20).
 */
const BUILD_ID = join(DIST, "build-id");

/** Packages loaded with a code cache, and the name of their cache in dist/. */
const CACHED_PACKAGES: Readonly<Record<string, string>> = {
  "@babel/parser": "babel-parser.v8cache",
  "tree-sitter": "tree-sitter.v8cache",
};

/** Whether V8 took a code cache: "used", "rejected" (another V8, other flags), or "none" (none made for this). */
export type CodeCacheUse = "used" | "rejected" | "none";

/** A file compiled by this launcher: where its cache goes, and what names the source the cache was made from. */
export interface Compiled {
  /** The bundle ("kspec.cjs") or the package's name. */
  name: string;
  file: string;
  script: vm.Script;
  cacheFile: string;
  identity: Buffer;
  use: CodeCacheUse;
}

export interface Launched {
  main: typeof main;
  /** What this launcher compiled so far: the bundle, and the cached packages a run loaded. */
  compiled: Compiled[];
}

/**
 * The CommonJS file at `file` compiled with its code cache, when the cache was made from this very source. V8 checks
 * a cache against the source's length only, not its text: a cache left from another source of the same length
 * would run that source's compiled functions. `identity` (the build id for the bundle, the file itself for a
 * package) tells them apart. The wrapper is the one Node's loader puts around a CommonJS file, on the file's first
 * line, so that its line numbers stay.
 */
function compile(name: string, file: string, source: string, cacheFile: string, identity: Buffer): Compiled {
  let data: Buffer | undefined;
  try {
    const cache = readFileSync(cacheFile);
    const ours = identity.length > 0 && cache.subarray(0, identity.length).equals(identity);
    if (ours && cache.length > identity.length) data = cache.subarray(identity.length);
  } catch {
    // None made (a build without its training step): V8 compiles as usual.
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: file, cachedData: data });
  const use = !data ? "none" : script.cachedDataRejected ? "rejected" : "used";
  return { name, file, script, cacheFile, identity, use };
}

/** Runs a compiled CommonJS file as Node's loader would, and gives its exports. */
function run(c: Compiled): unknown {
  const module = { exports: {} };
  (c.script.runInThisContext() as (...a: unknown[]) => void)(
    module.exports,
    createRequire(c.file),
    module,
    c.file,
    dirname(c.file),
  );
  return module.exports;
}

export function launch(): Launched {
  const buildId = readBuildId();
  const bundle = compile("kspec.cjs", BUNDLE, readFileSync(BUNDLE, "utf8"), `${BUNDLE}.v8cache`, buildId);
  const bundled = run(bundle) as Bundle;
  const compiled = [bundle];
  const nodeRequire = createRequire(BUNDLE);
  const loaded = new Map<string, unknown>();
  bundled.setPackageLoader((id) => {
    const cacheName = CACHED_PACKAGES[id];
    if (!cacheName) return nodeRequire(id);
    if (!loaded.has(id)) {
      const file = nodeRequire.resolve(id);
      const source = readFileSync(file);
      // The cache starts with the whole file it was made from: npm may replace a package without a rebuild, and
      // comparing the bytes is exact and cheaper than a hash (node:crypto alone takes ~3 ms to load).
      const c = compile(id, file, source.toString("utf8"), join(DIST, cacheName), source);
      compiled.push(c);
      loaded.set(id, run(c));
    }
    return loaded.get(id);
  });
  return { main: bundled.main, compiled };
}

/** The build id and its newline; empty where there is none (then no cache of the bundle matches). */
function readBuildId(): Buffer {
  try {
    return readFileSync(BUILD_ID);
  } catch {
    return Buffer.alloc(0);
  }
}
