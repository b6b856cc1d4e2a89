// Tree access stage: read-only access to a kernel tree, with an optional in-memory overlay of changed files
// (patches are applied there, never on disk). Paths are tree-relative and may not leave the tree.

import { existsSync, readFileSync, readdirSync, statSync, lstatSync, realpathSync } from "node:fs";
import { join, posix, resolve } from "node:path";
import { InputError } from "../spec/errors.js";

/** A normalized tree-relative path, or an error for anything that could leave the tree. */
export function safeRel(p: string): string {
  if (p.includes("\0")) throw new InputError(`path with a NUL byte: ${JSON.stringify(p)}`);
  if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) throw new InputError(`absolute path not allowed: ${p}`);
  const n = posix.normalize(p);
  if (n === ".." || n.startsWith("../") || n === "." || n === "")
    throw new InputError(`path leaves the tree: ${p}`);
  return n;
}

export class KernelTree {
  readonly root: string;
  private readonly overlay: ReadonlyMap<string, string | null>;
  private readonly cache = new Map<string, string | undefined>();
  private readonly dirCache = new Map<string, string[]>();

  constructor(root: string, overlay: ReadonlyMap<string, string | null> = new Map()) {
    this.root = resolve(root);
    this.overlay = overlay;
  }

  static open(dir: string): KernelTree {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`not a directory: ${dir}`);
    if (!existsSync(join(dir, "Makefile")) || !existsSync(join(dir, "arch", "x86"))) {
      throw new InputError(`not a kernel tree (no Makefile and arch/x86): ${dir}`);
    }
    return new KernelTree(dir);
  }

  /** The same tree with files replaced (string) or deleted (null); the tree on disk is untouched. */
  withOverlay(changes: ReadonlyMap<string, string | null>): KernelTree {
    const merged = new Map(this.overlay);
    for (const [k, v] of changes) merged.set(safeRel(k), v);
    return new KernelTree(this.root, merged);
  }

  get changedFiles(): string[] {
    return [...this.overlay.keys()].sort();
  }

  read(rel: string): string | undefined {
    const p = safeRel(rel);
    if (this.overlay.has(p)) return this.overlay.get(p) ?? undefined;
    if (this.cache.has(p)) return this.cache.get(p);
    let text: string | undefined;
    const abs = join(this.root, p);
    try {
      // A symlink inside an untrusted tree could point anywhere; only regular files inside the root are read.
      const st = lstatSync(abs);
      if (st.isFile()) text = readFileSync(abs, "utf8");
      else if (st.isSymbolicLink() && realpathSync(abs).startsWith(realpathSync(this.root) + "/")) {
        text = readFileSync(abs, "utf8");
      }
    } catch {
      text = undefined;
    }
    this.cache.set(p, text);
    return text;
  }

  exists(rel: string): boolean {
    return this.read(rel) !== undefined;
  }

  /** Files under a directory (recursively), disk and overlay, sorted; `filter` on the relative path. */
  list(dirRel: string, filter: (rel: string) => boolean): string[] {
    const key = safeRel(dirRel);
    let all = this.dirCache.get(key);
    if (!all) {
      all = [];
      const walk = (rel: string) => {
        let entries;
        try {
          entries = readdirSync(join(this.root, rel), { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const r = `${rel}/${e.name}`;
          if (e.isDirectory()) walk(r);
          else if (e.isFile()) all!.push(r);
        }
      };
      walk(key);
      this.dirCache.set(key, all);
    }
    const out = new Set(all.filter((f) => this.overlay.get(f) !== null));
    for (const [k, v] of this.overlay) if (v !== null && k.startsWith(key + "/")) out.add(k);
    return [...out].filter(filter).sort();
  }
}
