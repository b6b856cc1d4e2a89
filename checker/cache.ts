// Cache stage: extractions kept between runs. An extraction (or any value computed from a tree) is stored with
// every path it read, probed or listed and what the disk had there (inode, size, times); a later run on the same
// tree reuses it while all of them are unchanged, and extracts again otherwise. The same build of kspec only
// (dist/build-id) with the same parser (tree-sitter and its C grammar), the same function and flag macros.
// KSPEC_CACHE names the directory (default $XDG_CACHE_HOME/kspec or ~/.cache/kspec); KSPEC_CACHE=off turns it off. A cache that cannot be read or written is skipped silently: it only ever saves time. Trees read
// from git are content-addressed: an extraction is kept with the object ids of what it read.

import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { recordReads, type KernelTree } from "../kernel/tree.js";
import { readBounded, writeAtomic } from "../spec/files.js";
import { requirePackage } from "../spec/packages.js";
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

/** The packages whose behaviour an extraction depends on besides kspec's own code: the parser and its grammar. */
const PARSERS = ["tree-sitter", "tree-sitter-c"];

let build: string | undefined | null = null;
/**
 * kspec's build (dist/build-id, a hash of its compiled code) and the installed parser's versions: an upgrade of
 * either, even without a rebuild, makes every kept extraction a miss.
 */
function buildId(): string | undefined {
  if (build === null) {
    try {
      const versions = PARSERS.map((p) => requirePackage<{ version: string }>(`${p}/package.json`).version);
      build = [readFileSync(BUILD_ID, "utf8").trim(), ...versions].join(" ");
    } catch {
      build = undefined;
    }
  }
  return build;
}

/** An entry larger than this is not read (an extraction is a few kilobytes; thousands of paths are ~100 KB). */
const MAX_ENTRY = 16 << 20;

interface Entry {
  deps: [string, string][];
  value: unknown;
}

interface Stored {
  key: string;
  entries: Entry[];
}

/** How a kept value is written as JSON and read back. */
export interface Codec<T> {
  encode(v: T): unknown;
  decode(j: unknown): T;
}

/** A kept value with the paths it depends on ("dir/" for a directory listed). */
export interface WithDeps<T> {
  value: T;
  deps: string[];
}

/**
 * A value computed from a tree (an extraction), from the cache when every path it depends on is as it was, else
 * computed (and kept), with the paths it depends on. `what` names what is computed (the function, the flag
 * macros); the build is added. On disk, the tree's directory is part of the key and a path's signature is its
 * inode, size and times; in git, signatures are object ids and an entry serves any commit of any repository
 * whose objects match — entries are filed by `hint`'s object id (the function's file), a few per file. Trees
 * with an overlay (a patch applied in memory) are computed every time.
 */
export function cachedResult<T>(
  tree: KernelTree,
  what: readonly unknown[],
  compute: () => T,
  codec: Codec<T>,
  hint?: string,
): WithDeps<T> {
  const dir = cacheDir();
  const id = buildId();
  const run = () => {
    const { value, paths } = recordReads(compute);
    return { value, deps: tree.contentAddressed ? [...paths] : watched(tree, paths) };
  };
  if (!dir || !id || tree.hasOverlay) return run();
  const content = tree.contentAddressed;
  const key = JSON.stringify([id, content ? "git" : tree.realRoot, ...what]);
  const name = content && hint ? `${key}\0${hint}\0${tree.signature(hint)}` : key;
  const file = join(dir, "extract", `${fileName(name)}.json`);
  const kept = load(file, key);
  const hit = kept.find((e) => e.deps.every(([p, sig]) => tree.signature(p) === sig));
  if (hit) {
    cacheStats.hits++;
    return { value: codec.decode(hit.value), deps: hit.deps.map(([p]) => p) };
  }
  cacheStats.misses++;
  const r = run();
  const entry: Entry = {
    deps: r.deps.sort().map((p) => [p, tree.signature(p)]),
    value: codec.encode(r.value),
  };
  // On disk a tree has one state that matters, the current one; in git, a few states of one file's content.
  const entries = content ? [entry, ...kept].slice(0, 8) : [entry];
  try {
    writeAtomic(file, JSON.stringify({ key, entries } satisfies Stored));
    cacheStats.stored++;
    prune(join(dir, "extract"));
  } catch {
    // A read-only or full cache directory costs only the time it would have saved.
  }
  return r;
}

/**
 * The name of the file that keeps the entries of `s`: 64 bits of two FNV-1a lanes (different offsets and primes).
 * Not a cryptographic hash, and it need not be one: load() compares the whole key, and an entry is used only when
 * every path it records is unchanged, so two keys that share a file cost each other's entries, never a wrong
 * result. SHA-256 would load node:crypto, ~3 ms of every run.
 */
function fileName(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x9dc5811c ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/**
 * The paths to watch on disk: a path that was not there is watched through the nearest directory that is
 * (creating it changes that directory), so thousands of include candidates collapse into a few dozen.
 */
function watched(tree: KernelTree, paths: Iterable<string>): string[] {
  const deps = new Set<string>();
  // A dangling symlink is watched itself: creating its target changes it, not its directory.
  const there = (q: string) => {
    const e = tree.diskEntry(q);
    return e.kind !== "missing" || !!e.link;
  };
  // The directory watched for a missing path, by the path's directory: the thousands of include candidates that
  // are not there lie in a few dozen directories.
  const byDir = new Map<string, string>();
  for (const p of paths) {
    if (p.endsWith("/") || there(p)) {
      deps.add(p);
      continue;
    }
    const dir = p.slice(0, Math.max(0, p.lastIndexOf("/")));
    let w = byDir.get(dir);
    if (w === undefined) {
      let q = dir;
      while (q !== "" && !there(q)) q = q.slice(0, Math.max(0, q.lastIndexOf("/")));
      byDir.set(dir, (w = `${q}/`));
    }
    deps.add(w);
  }
  return [...deps];
}

/** Entries kept at most: trees come and go (a temporary copy, a worktree); the oldest entries go first. */
const MAX_ENTRIES = 512;

function prune(dir: string): void {
  const names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  if (names.length <= MAX_ENTRIES) return;
  const aged = names
    .map((n) => ({ n, t: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => a.t - b.t || (a.n < b.n ? -1 : 1));
  for (const { n } of aged.slice(0, names.length - (MAX_ENTRIES * 3) / 4))
    rmSync(join(dir, n), { force: true });
}

function load(file: string, key: string): Entry[] {
  try {
    const s = JSON.parse(readBounded(file, MAX_ENTRY).toString("utf8")) as Stored;
    return s.key === key && Array.isArray(s.entries) ? s.entries.filter((e) => Array.isArray(e.deps)) : [];
  } catch {
    return [];
  }
}
