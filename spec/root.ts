// Load stage (package root): where the package lives, so that built-in specs are read from source in dist/ and in tests alike.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) || !existsSync(join(d, "spec", "policies"))) {
    const up = dirname(d);
    if (up === d) throw new Error("kspec: cannot find the package root");
    d = up;
  }
  return d;
})();

export const POLICY_DIR = join(ROOT, "spec", "policies");
export const FLAG_DIR = join(ROOT, "spec", "flags");
/** Built-in spec files read once at build time (so that most runs load no TypeScript parser at all). */
export const SPEC_CACHE = join(ROOT, "dist", "spec-cache.json");
/** A hash of the compiled code, written at build time (results kept between runs are valid for one build). */
export const BUILD_ID = join(ROOT, "dist", "build-id");
