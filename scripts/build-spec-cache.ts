// Build stage: reads every built-in policy, proposal and flag spec once and stores what was read (with the file's
// text, which a run compares) in dist/spec-cache.json, so that commands need not parse them again.

import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { BUILD_ID, FLAG_DIR, POLICY_DIR, ROOT, SPEC_CACHE } from "../spec/root.js";
import { parseSpecText, toCacheEntry, type CacheEntry } from "../spec/load.js";
import { writeFileAtomic } from "../cli/io.js";

const files: Record<string, CacheEntry> = {};
for (const dir of [POLICY_DIR, FLAG_DIR]) {
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort()) {
    const file = join(dir, name);
    const text = readFileSync(file, "utf8");
    const rel = relative(ROOT, file);
    files[rel] = toCacheEntry(text, await parseSpecText(text, rel));
  }
}
writeFileAtomic(SPEC_CACHE, JSON.stringify({ files }) + "\n");

// The build's identity: a hash of the compiled code. Results kept between runs (KSPEC_CACHE) are valid only for
// the build that computed them.
const hash = createHash("sha256");
const walk = (dir: string): void => {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.c?js$/.test(e.name)) hash.update(relative(ROOT, p)).update("\0").update(readFileSync(p));
  }
};
walk(join(ROOT, "dist"));
writeFileAtomic(BUILD_ID, hash.digest("hex").slice(0, 16) + "\n");
