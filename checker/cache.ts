// Cache stage: extractions kept between runs. An extraction (or any value computed from a tree) is stored with every path it read, probed or listed
// and what the disk had there (inode, size, times); a later run on the same tree reuses it while all of them are
// unchanged, and extracts again otherwise. The same build of kspec only (dist/build-id), the same function and
// flag macros. KSPEC_CACHE names the directory (default $XDG_CACHE_HOME/kspec or ~/.cache/kspec); KSPEC_CACHE=off
// turns it off. A cache that cannot be read or written is skipped silently: it only ever saves time.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { recordReads, type KernelTree } from "../kernel/tree.js";
import { readBounded, writeAtomic } from "../spec/files.js";
import { BUILD_ID } from "../spec/root.js";

/** What the cache did in this process (KSPEC_STATS prints it). */
export const cacheStats = { hits: 0, misses: 0, stored: 0 };

/** Where kept results live, or undefined when caching is off. */
export function cacheDir(): string | undefined {
  const v = process.env.KSPEC_CACHE;
  if (v === "off" || v === "0") return undefined;
  if (v) return v;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kspec");
}

let build: string | undefined | null = null;
function buildId(): string | undefined {
  if (build === null) {
    try {
      build = readFileSync(BUILD_ID, "utf8").trim() || undefined;
    } catch {
      build = undefined;
    }
  }
  return build;
}

/** An entry larger than this is not read (an extraction is a few kilobytes; thousands of paths are ~100 KB). */
const MAX_ENTRY = 16 << 20;

interface Stored {
  key: string;
  deps: [string, string][];
  value: unknown;
}

/** How a kept value is written as JSON and read back. */
export interface Codec<T> {
  encode(v: T): unknown;
  decode(j: unknown): T;
}

/**
 * A value computed from a tree (an extraction), from the cache when every path it depends on is as it was, else
 * computed (and kept). `key` names what is computed (the function, the flag macros); the build and the tree are
 * added. Trees with an overlay (a patch applied in memory) are computed every time.
 */
export function cachedResult<T>(tree: KernelTree, what: readonly unknown[], compute: () => T, codec: Codec<T>): T {
  const dir = cacheDir();
  const id = buildId();
  if (!dir || !id || tree.hasOverlay) return compute();
  const key = JSON.stringify([id, tree.realRoot, ...what]);
  const file = join(dir, "extract", `${createHash("sha256").update(key).digest("hex").slice(0, 32)}.json`);
  const hit = load(file, key, tree);
  if (hit !== undefined) {
    cacheStats.hits++;
    return codec.decode(hit);
  }
  cacheStats.misses++;
  const { value, paths } = recordReads(compute);
  // A path that was not there is watched through the nearest directory that is: creating it changes that
  // directory. Thousands of include candidates collapse into a few dozen directories.
  const deps = new Set<string>();
  for (const p of paths) {
    if (p.endsWith("/")) {
      deps.add(p);
      continue;
    }
    let q = p;
    while (q !== "" && tree.diskEntry(q).kind === "missing") q = q.slice(0, Math.max(0, q.lastIndexOf("/")));
    deps.add(q === p ? p : `${q}/`);
  }
  const stored: Stored = {
    key,
    deps: [...deps].sort().map((p) => [p, tree.signature(p)]),
    value: codec.encode(value),
  };
  try {
    writeAtomic(file, JSON.stringify(stored));
    cacheStats.stored++;
    prune(join(dir, "extract"));
  } catch {
    // A read-only or full cache directory costs only the time it would have saved.
  }
  return value;
}

/** Entries kept at most: trees come and go (a temporary copy, a worktree); the oldest entries go first. */
const MAX_ENTRIES = 512;

function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names
    .map((n) => ({ n, t: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => a.t - b.t || (a.n < b.n ? -1 : 1));
  for (const { n } of aged.slice(0, names.length - (MAX_ENTRIES * 3) / 4)) rmSync(join(dir, n), { force: true });
}

function load(file: string, key: string, tree: KernelTree): unknown {
  let s: Stored;
  try {
    s = JSON.parse(readBounded(file, MAX_ENTRY).toString("utf8")) as Stored;
  } catch {
    return undefined;
  }
  if (s.key !== key || !Array.isArray(s.deps)) return undefined;
  for (const [p, sig] of s.deps) if (tree.signature(p) !== sig) return undefined;
  return s.value;
}
