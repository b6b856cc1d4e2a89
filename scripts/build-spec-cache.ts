// Build stage: reads every built-in policy, proposal and flag spec once and stores what was read (keyed by the
// file's SHA-256) in dist/spec-cache.json, so that commands need not parse them again.

import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { FLAG_DIR, POLICY_DIR, ROOT, SPEC_CACHE } from "../spec/root.js";
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
