// Read stage: read-only access to a kernel tree, with an optional in-memory overlay of changed files
// (patches are applied there, never on disk). Paths are tree-relative and may not leave the tree: not by `..`,
// and not through a symlinked component whose real path lies outside the tree's root.

import { lstatSync, readdirSync, realpathSync, statSync, type Dirent, type Stats } from "node:fs";
import { basename, dirname, posix, resolve } from "node:path";
import { InputError } from "../spec/errors.js";
import { didYouMean } from "../spec/suggest.js";
import { readFileBounded, TooLarge } from "../spec/files.js";
import { childProcess } from "../spec/packages.js";

/** A normalized tree-relative path, or an error for anything that could leave the tree. */
export function safeRel(p: string): string {
  if (p.includes("\0")) throw new InputError(`path with a NUL byte: ${JSON.stringify(p)}`);
  if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) throw new InputError(`absolute path not allowed: ${p}`);
  const n = posix.normalize(p);
  if (n === ".." || n.startsWith("../") || n === "." || n === "")
    throw new InputError(`path leaves the tree: ${p}`);
  return n;
}

/** A path that is already normal and relative (the usual case): no need to normalize it again. */
const NORMAL = /^(?!\.{1,2}(?:\/|$))[\w+,@=-][\w.+,@=-]*(?:\/(?!\.{1,2}(?:\/|$))[\w.+,@=-]+)*$/;

/** Paths already known to be normal: a run asks for the same few thousand paths many times over. */
const knownNormal = new Set<string>();

/** `rel` normalized (safeRel), for the price of a set lookup when it is already known to be normal. */
function normalRel(rel: string): string {
  if (knownNormal.has(rel)) return rel;
  const p = NORMAL.test(rel) ? rel : safeRel(rel);
  if (p === rel) {
    if (knownNormal.size >= 1 << 16) knownNormal.clear();
    knownNormal.add(rel);
  }
  return p;
}

/** Kernel sources are at most a few hundred kilobytes; larger files are not read (memory stays bounded). */
export const MAX_TREE_FILE = 16 << 20;

/**
 * What a tree path is. `outside`: the path, or a directory on the way to it, is a symlink whose real path lies
 * outside the tree: never read. `too-large`: a file over MAX_TREE_FILE.
 */
export type Entry =
  | { kind: "file" }
  | { kind: "dir" }
  /** `link`: a symlink is there, whose target is not (what creates the target changes the link's signature). */
  | { kind: "missing"; link?: true }
  /** `via`: the symlink (the path itself or a directory on the way) whose real path is `target`. */
  | { kind: "outside"; target: string; via: string }
  | { kind: "too-large"; size: number };

/** A path kspec refused to read, and why: reported as a located problem where the file was needed. */
export interface Blocked {
  path: string;
  entry: Extract<Entry, { kind: "outside" | "too-large" }>;
}

/** The problem kind of a path kspec refused to read. */
export function blockedKind(b: Blocked): "symlink-outside-tree" | "file-too-large" {
  return b.entry.kind === "outside" ? "symlink-outside-tree" : "file-too-large";
}

export function blockedMessage(b: Blocked): string {
  if (b.entry.kind === "outside" && b.entry.via !== b.path)
    return `${b.path} is not read: ${b.entry.via} is a symlink to ${b.entry.target}, outside the kernel tree`;
  return b.entry.kind === "outside"
    ? `${b.path} is not read: it is a symlink to ${b.entry.target}, outside the kernel tree`
    : `${b.path} is ${b.entry.size} bytes, over the ${MAX_TREE_FILE >> 20} MiB limit for a kernel source file: not read`;
}

/**
 * Values derived from one file's text, shared by every state of every tree (a patch series makes many states of
 * one tree, and most files are the same in all of them). Kept per path for the last few texts, since a series
 * alternates between a file before and after a patch; a text is matched by identity first, then by content.
 */
export class PerText<T> {
  private readonly byPath = new Map<string, { text: string; value: T }[]>();

  constructor(private readonly maxPaths = 16384) {}

  get(path: string, text: string, make: () => T): T {
    let versions = this.byPath.get(path);
    const hit = versions?.find((v) => v.text === text);
    if (hit) return hit.value;
    const value = make();
    if (!versions) {
      if (this.byPath.size >= this.maxPaths) this.byPath.delete(this.byPath.keys().next().value!);
      this.byPath.set(path, (versions = []));
    }
    versions.unshift({ text, value });
    if (versions.length > 4) versions.pop();
    return value;
  }
}

/** What a value kept with shared() depends on in one file: its bytes, or a part of them. */
type Fingerprint = string | Buffer;

/**
 * What a value kept with shared() sees of a path: a file's fingerprint, or else what is there instead — nothing,
 * a directory, a file over the size limit, a link out of the tree are different things to the value (the last two
 * are reported where they are included).
 */
function seen(
  bytes: Buffer | undefined,
  entry: () => Entry,
  fingerprint: (b: Buffer) => Fingerprint,
): Fingerprint {
  return bytes ? fingerprint(bytes) : entryTag(entry());
}

/**
 * What is at a path, and not which object (a git source's entry carries the blob's id): its kind, with the link and
 * its target for a path leaving the tree and the size of a file over the limit.
 */
export function entryTag(e: Entry): string {
  if (e.kind === "outside") return `\0outside\0${e.target}\0${e.via}`;
  return e.kind === "too-large" ? `\0too-large\0${e.size}` : `\0${e.kind}`;
}

function same(a: Fingerprint, b: Fingerprint): boolean {
  return a === b || (a instanceof Buffer && b instanceof Buffer && a.equals(b));
}

export interface Shared {
  value: unknown;
  /** Every path the value was computed from: read, or probed for existence. */
  deps: ReadonlySet<string>;
  /** The fingerprints of those of the paths the overlay held when the value was computed (of every path, for a
   * content-addressed source). */
  overlaid: ReadonlyMap<string, Fingerprint>;
  /** The fingerprint of a path as the disk has it. */
  disk: (p: string) => Fingerprint;
}

/**
 * The paths being recorded (recordReads): every path a computation reads or probes, and every directory it
 * lists ("dir/"), so that its result can be kept between runs and reused while none of them changed.
 */
const recorders: Set<string>[] = [];

/**
 * How a computation used each path it depended on (recordUses): the questions it asked of the file — its
 * existence and #include lines as the include closure needs them ("closure"), the definitions of one macro
 * ("defines:NAME") or of one function ("fn:NAME"), a directory's listing ("list") — or "content" for any read
 * made outside such a question. A commit that gives every question the same answer leaves the computation's
 * result as it was (checker/log carries a function's meaning across such commits without reading it again).
 */
export type Uses = Map<string, Set<string>>;

/** The questions, as Uses names them. */
export const Q = {
  content: "content",
  closure: "closure",
  list: "list",
  /** A symlink was followed to reach the path: what it depends on includes the link's target, which a list of
   * changed paths does not name; such a result is never carried over (checker/log reads every commit again). */
  link: "link",
  defines: (macro: string) => `defines:${macro}`,
  fn: (name: string) => `fn:${name}`,
} as const;

const useRecorders: Uses[] = [];
/** Inside a question (asking()), reads are recorded by the question's own use() calls, not as content. */
let questions = 0;

function note(p: string): void {
  for (const r of recorders) r.add(p);
  if (!questions) for (const r of useRecorders) addUse(r, p, Q.content);
}

function addUse(r: Uses, p: string, question: string): void {
  let s = r.get(p);
  if (!s) r.set(p, (s = new Set()));
  s.add(question);
}

/** `f`'s result with how it used each path (see Uses). */
export function recordUses<T>(f: () => T): { value: T; uses: Uses } {
  const uses: Uses = new Map();
  useRecorders.push(uses);
  try {
    return { value: f(), uses };
  } finally {
    useRecorders.splice(useRecorders.indexOf(uses), 1);
  }
}

/**
 * Runs the reads of a question whose answer its caller records with use(), whether it reads or finds the answer
 * in a memo: only what the answer holds can reach the result.
 */
export function asking<T>(f: () => T): T {
  questions++;
  try {
    return f();
  } finally {
    questions--;
  }
}

/** Records that a path was asked `question` (see Uses). */
export function use(p: string, question: string): void {
  for (const r of useRecorders) addUse(r, p, question);
}

/** Are uses being recorded (recordUses)? */
export function recordingUses(): boolean {
  return useRecorders.length > 0;
}

const given = new WeakMap<Uses, WeakSet<object>>();

/**
 * As use() for many paths, once per recording for one `answer` (a memo answering the same question again and
 * again: the closure, a macro's definitions).
 */
export function useAll(answer: object, paths: Iterable<string>, question: string): void {
  for (const r of useRecorders) {
    let g = given.get(r);
    if (!g) given.set(r, (g = new WeakSet()));
    if (g.has(answer)) continue;
    g.add(answer);
    for (const p of paths) addUse(r, p, question);
  }
}

/**
 * Recorded paths (recordReads', or recordUses' keys), to find those a commit's changed paths (git's list: files,
 * never directories) may affect, as git's pathspecs match and more: a changed path itself; every recorded path
 * under it (a directory replaced by a file or a link takes along what was read or probed in it, and git lists the
 * link alone); and each recorded path above it (a directory listed, "dir/"; a path that was a file or nothing
 * and is a directory now).
 */
export class RecordedPaths {
  private readonly sorted: string[];
  private readonly set: ReadonlySet<string>;

  constructor(paths: Iterable<string>) {
    this.set = new Set(paths);
    this.sorted = [...this.set].sort();
  }

  affectedBy(changed: readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const c of changed) {
      if (this.set.has(c)) out.add(c);
      const under = `${c}/`;
      for (let i = lowerBound(this.sorted, under); this.sorted[i]?.startsWith(under); i++)
        out.add(this.sorted[i]);
      for (let d = c; d !== "";) {
        d = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "";
        for (const p of [d, `${d}/`]) if (this.set.has(p)) out.add(p);
      }
    }
    return out;
  }
}

function lowerBound(xs: readonly string[], x: string): number {
  let [lo, hi] = [0, xs.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `f`'s result with the paths it read, probed or listed (directories end in "/"). */
export function recordReads<T>(f: () => T): { value: T; paths: Set<string> } {
  const paths = new Set<string>();
  recorders.push(paths);
  try {
    return { value: f(), paths };
  } finally {
    recorders.splice(recorders.indexOf(paths), 1);
  }
}

/**
 * Where a tree's files come from: the disk under a directory (DiskSource), or a commit of a git repository
 * (kernel/git). Paths are normalized and tree-relative; every answer is kept for the life of the source.
 */
export interface TreeSource {
  /** The real path a write must never resolve into (the tree's directory; a repository's git directory). */
  readonly realRoot: string;
  /** The commit the files are from, and its repository, for a git source. */
  readonly commit?: string;
  readonly gitDir?: string;
  /** Values shared by the states of a tree (KernelTree.shared), a few per key. */
  readonly shared: Map<string, Shared[]>;
  /** Values that depend on the source alone (KernelTree.onDisk). */
  readonly diskMemos: Map<string, unknown>;
  entry(rel: string): Entry;
  bytes(rel: string): Buffer | undefined;
  read(rel: string): string | undefined;
  /** Files under a directory, recursively, sorted; the paths refused; the directories walked. */
  files(rel: string): Walk;
  /** What is at a path now, to tell whether a result computed from it still holds ("-": nothing). */
  signature(rel: string): string;
  /** Signatures name the content (git object ids): a result is valid wherever they match, in any tree. */
  readonly contentAddressed: boolean;
  /** Files about to be read, fetched together where one request per file would cost more (git). */
  readAhead?(rels: readonly string[]): void;
  /** Is the path reached through a symlink (itself, or a directory on the way)? */
  reachedThroughLink?(rel: string): boolean;
}

/** What every source keeps: texts decoded from bytes once, and directory walks. */
export abstract class SourceBase {
  private readonly texts = new Map<string, string>();
  private readonly walks = new Map<string, Walk>();

  abstract bytes(rel: string): Buffer | undefined;
  /** Fills a walk of a directory: its files, the paths refused, the directories walked. */
  protected abstract walkInto(rel: string, w: Walk): void;

  read(rel: string): string | undefined {
    let t = this.texts.get(rel);
    if (t === undefined) {
      const b = this.bytes(rel);
      if (b === undefined) return undefined;
      this.texts.set(rel, (t = b.toString("utf8")));
    }
    return t;
  }

  files(rel: string): Walk {
    let w = this.walks.get(rel);
    if (!w) {
      w = { files: [], blocked: [], dirs: [] };
      this.walkInto(rel, w);
      this.walks.set(rel, w);
    }
    return w;
  }
}

export interface Walk {
  files: string[];
  blocked: Blocked[];
  dirs: string[];
}

/** A file as the cache sees it on disk: inode, size and times. */
function statSignature(x: Stats): string {
  return `${x.ino}:${x.size}:${x.mtimeMs}:${x.ctimeMs}`;
}

/** The disk under a root, read once per path: real paths checked, directory listings cached. */
class DiskSource extends SourceBase implements TreeSource {
  readonly realRoot: string;
  readonly contentAddressed = false;
  private readonly dirs = new Map<string, Map<string, Dirent> | Entry>();
  private readonly entries = new Map<string, Entry>();
  private readonly raw = new Map<string, Buffer>();
  /** Paths whose directory entry is a regular file (not a symlink): their signature can be taken as they are read. */
  private readonly regular = new Set<string>();
  /**
   * Signatures taken as the run reads: a file's from the descriptor it was read through, a directory's before it
   * is listed, a symlink's before it is followed. A kept result records what was read, never a later state.
   */
  private readonly readSignatures = new Map<string, string>();
  /** Values shared by the states of this tree (KernelTree.shared), a few per key. */
  readonly shared = new Map<string, Shared[]>();
  /** Values that depend on the disk alone (KernelTree.onDisk). */
  readonly diskMemos = new Map<string, unknown>();

  constructor(readonly root: string) {
    super();
    this.realRoot = realpathSync(root);
  }

  /** The absolute path of a normalized tree path (a plain join: the path is already normal). */
  private abs(rel: string): string {
    return rel === "" ? this.root : `${this.root}/${rel}`;
  }

  private inside(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.realRoot + "/");
  }

  /** The entries of a directory, or why it cannot be listed. */
  private listing(rel: string): Map<string, Dirent> | Entry {
    let l = this.dirs.get(rel);
    if (l) return l;
    if (rel !== "") {
      const e = this.entry(rel);
      if (e.kind !== "dir") {
        this.dirs.set(rel, e);
        return e;
      }
    }
    // Taken before the listing: a file created while the run reads changes the directory after it.
    this.readSignatures.set(rel, this.signature(rel));
    try {
      l = new Map(readdirSync(this.abs(rel), { withFileTypes: true }).map((d) => [d.name, d]));
    } catch {
      l = { kind: "missing" };
    }
    this.dirs.set(rel, l);
    return l;
  }

  entry(rel: string): Entry {
    let e = this.entries.get(rel);
    if (e) return e;
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    const l = this.listing(parent);
    if (!(l instanceof Map)) e = l.kind === "outside" ? l : { kind: "missing" };
    else {
      const d = l.get(rel.slice(slash + 1));
      if (!d) e = { kind: "missing" };
      else if (d.isSymbolicLink()) {
        // Taken before the link is followed: a change made while the run reads is seen by the next one.
        this.readSignatures.set(rel, this.signature(rel));
        // Any symlink, to a file or a directory: its real path decides, never its name.
        let real: string | undefined;
        try {
          real = realpathSync(this.abs(rel));
        } catch {
          real = undefined;
        }
        if (real === undefined) e = { kind: "missing", link: true };
        else if (!this.inside(real)) e = { kind: "outside", target: real, via: rel };
        else e = this.typed(statSync(real));
      } else if (d.isDirectory()) e = { kind: "dir" };
      // A regular file's size is checked when it is read (too-large then), not with a stat per entry.
      else if (d.isFile()) {
        e = { kind: "file" };
        this.regular.add(rel);
      } else e = { kind: "missing" };
    }
    this.entries.set(rel, e);
    return e;
  }

  private typed(st: Stats): Entry {
    if (st.isDirectory()) return { kind: "dir" };
    if (!st.isFile()) return { kind: "missing" };
    return st.size > MAX_TREE_FILE ? { kind: "too-large", size: st.size } : { kind: "file" };
  }

  /**
   * A file's bytes. Most files a run reads (the thousand headers of an include closure) are only searched for a
   * few words: as bytes they stay out of the JavaScript heap, and are decoded only when needed as text.
   */
  bytes(rel: string): Buffer | undefined {
    if (this.entry(rel).kind !== "file") return undefined;
    let b = this.raw.get(rel);
    if (b === undefined) {
      try {
        // The stat of the descriptor read is the signature of a regular file, and taken before the read: a change
        // made while the run reads makes a later run recompute, where a stat taken afterwards could hide it.
        const seen = this.regular.has(rel)
          ? (st: Stats) => this.readSignatures.set(rel, statSignature(st))
          : undefined;
        b = readFileBounded(this.abs(rel), MAX_TREE_FILE, undefined, seen);
      } catch (e) {
        if (e instanceof TooLarge)
          this.entries.set(rel, { kind: "too-large", size: e.size ?? MAX_TREE_FILE + 1 });
        return undefined;
      }
      this.raw.set(rel, b);
    }
    return b;
  }

  /** Files under a directory, recursively, sorted; symlinks followed only where they stay inside the tree. */
  protected walkInto(rel: string, w: Walk): void {
    this.walk(rel, w.files, w.blocked, new Set(), w.dirs);
  }

  /**
   * What a path is on disk now, to tell whether a result computed from it still holds: its inode, size and
   * times, and its target's where it is a symlink ("-" where nothing is there). A directory's change with any
   * entry added, removed or renamed in it.
   */
  signature(rel: string): string {
    const read = this.readSignatures.get(rel);
    if (read !== undefined) return read;
    const abs = this.abs(rel);
    const l = lstatSync(abs, { throwIfNoEntry: false });
    if (!l) return "-";
    if (!l.isSymbolicLink()) return statSignature(l);
    const t = statSync(abs, { throwIfNoEntry: false });
    return `${statSignature(l)}>${t ? statSignature(t) : "-"}`;
  }

  private walk(rel: string, out: string[], blocked: Blocked[], seen: Set<string>, dirs: string[]): void {
    dirs.push(rel);
    const l = this.listing(rel);
    if (!(l instanceof Map)) {
      if (l.kind === "outside") blocked.push({ path: rel, entry: l });
      return;
    }
    let real: string;
    try {
      real = realpathSync(this.abs(rel));
    } catch {
      return;
    }
    if (seen.has(real)) return; // a symlink loop inside the tree
    seen.add(real);
    for (const name of [...l.keys()].sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const e = this.entry(r);
      if (e.kind === "dir") this.walk(r, out, blocked, seen, dirs);
      else if (e.kind === "file") out.push(r);
      else if (e.kind === "outside" || e.kind === "too-large") blocked.push({ path: r, entry: e });
    }
  }
}

/** A path that must be a directory, or one line saying it is not. */
export function requireDirectory(dir: string): void {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    // A mistyped version (linux-source-6.21) is usually a sibling's name off by a character or two.
    let siblings: string[] = [];
    try {
      siblings = readdirSync(dirname(resolve(dir)), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      // No parent to list: the plain message says enough.
    }
    throw new InputError(`not a directory: ${dir}${didYouMean(basename(resolve(dir)), siblings)}`);
  }
}

/** A tree with no Makefile and arch/x86 is not a kernel (one clear line, not a missing-function verdict). */
export function requireKernel(tree: KernelTree, shown: string): void {
  if (tree.entry("Makefile").kind !== "file" || tree.entry("arch/x86").kind !== "dir")
    throw new InputError(`not a kernel tree (no Makefile and arch/x86): ${shown}`);
}

export class KernelTree {
  readonly root: string;
  private readonly source: TreeSource;
  private readonly overlay: ReadonlyMap<string, string | null>;

  constructor(root: string, overlay: ReadonlyMap<string, string | null> = new Map(), source?: TreeSource) {
    this.root = source ? root : resolve(root);
    this.source = source ?? new DiskSource(this.root);
    this.overlay = overlay;
  }

  static open(dir: string): KernelTree {
    requireDirectory(dir);
    const tree = new KernelTree(dir);
    requireKernel(tree, dir);
    return tree;
  }

  /** HEAD, when the tree is a clean git work tree of its own (a series can then name its base-commit). */
  gitBase(): string | undefined {
    // A tree read from a commit is that commit.
    if (this.source.commit) return this.source.commit;
    const git = (...args: string[]) =>
      childProcess()
        .execFileSync("git", ["-C", this.root, ...args], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        })
        .trim();
    try {
      if (realpathSync(git("rev-parse", "--show-toplevel")) !== this.realRoot) return undefined;
      if (git("status", "--porcelain", "--untracked-files=no") !== "") return undefined;
      return git("rev-parse", "--verify", "HEAD");
    } catch {
      return undefined;
    }
  }

  /** The identity git would give a commit made in this tree: its own config first, then the user's. */
  gitIdentity(): { name: string; email: string } | undefined {
    const get = (k: string) => {
      try {
        const where = this.source.gitDir ? ["--git-dir", this.source.gitDir] : ["-C", this.root];
        return childProcess()
          .execFileSync("git", [...where, "config", "--get", k], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
          })
          .trim();
      } catch {
        return "";
      }
    };
    const name = get("user.name");
    const email = get("user.email");
    return name && email ? { name, email } : undefined;
  }

  /** The real path of the root: an --out must not resolve inside it. */
  get realRoot(): string {
    return this.source.realRoot;
  }

  private readonly memos = new Map<string, unknown>();

  /** A value computed once per state of the tree (a new overlay is a new state). */
  memo<T>(key: string, make: () => T): T {
    if (!this.memos.has(key)) this.memos.set(key, make());
    return this.memos.get(key) as T;
  }

  /** A value that depends on the disk alone, shared by every state of this tree (its overlay is not consulted). */
  onDisk<T>(key: string, make: () => T): T {
    const m = this.source.diskMemos;
    if (!m.has(key)) m.set(key, make());
    return m.get(key) as T;
  }

  /** What the disk has at a path, whatever the overlay says (for values kept with onDisk()). */
  diskEntry(rel: string): Entry {
    const p = normalRel(rel);
    if (recorders.length) note(p);
    return this.source.entry(p);
  }

  /** The disk's signature of a recorded path (DiskSource.signature; "dir/" for a directory listed). */
  signature(dep: string): string {
    return this.source.signature(dep.endsWith("/") ? dep.slice(0, -1) : dep);
  }

  /** Is a path replaced or deleted by this state's overlay? */
  overlays(rel: string): boolean {
    return this.overlay.has(rel);
  }

  /** Whether signatures name contents (a tree read from git), so that results carry across commits. */
  get contentAddressed(): boolean {
    return this.source.contentAddressed;
  }

  get hasOverlay(): boolean {
    return this.overlay.size > 0;
  }

  /**
   * A value computed from the paths it reads or probes (`deps`), reused by any state of the same disk tree in
   * which every one of those paths holds the same: each step of a series recomputes only what its patch touched.
   * `fingerprint`, when given, is the part of a file's text (null: no file) the value depends on, so that a
   * change elsewhere in the file keeps the value.
   */
  shared<T>(
    key: string,
    compute: () => { value: T; deps: ReadonlySet<string> },
    fingerprint: (bytes: Buffer) => Fingerprint = (b) => b,
  ): T {
    const entries = this.source.shared.get(key) ?? [];
    const now = (p: string) => seen(this.bytes(p), () => this.entry(p), fingerprint);
    // Content-addressed sources (the commits of a repository) share entries: every dependency is compared.
    const all = this.source.contentAddressed;
    const valid = (e: Shared) => {
      for (const [p, v] of e.overlaid) if (!same(now(p), v)) return false;
      if (all) return true;
      for (const p of this.overlay.keys())
        if (!e.overlaid.has(p) && e.deps.has(p) && !same(now(p), e.disk(p))) return false;
      return true;
    };
    const hit = entries.find(valid);
    if (hit) {
      if (recorders.length) for (const p of hit.deps) note(p);
      return hit.value as T;
    }
    const { value, deps } = compute();
    if (recorders.length) for (const p of deps) note(p);
    const overlaid = new Map<string, Fingerprint>();
    for (const p of all ? deps : this.overlay.keys()) if (all || deps.has(p)) overlaid.set(p, now(p));
    const source = this.source;
    const disk = (p: string) => seen(source.bytes(p), () => source.entry(p), fingerprint);
    entries.unshift({ value, deps, overlaid, disk });
    if (entries.length > 4) entries.pop();
    this.source.shared.set(key, entries);
    return value;
  }

  /** The same tree with files replaced (string) or deleted (null); the tree on disk is untouched. */
  withOverlay(changes: ReadonlyMap<string, string | null>): KernelTree {
    const merged = new Map(this.overlay);
    for (const [k, v] of changes) merged.set(safeRel(k), v);
    const next = new KernelTree(this.root, merged, this.source);
    for (const [k, b] of this.encoded) if (merged.get(k) === this.overlay.get(k)) next.encoded.set(k, b);
    return next;
  }

  get changedFiles(): string[] {
    return [...this.overlay.keys()].sort();
  }

  /** What a path is in this state of the tree (the overlay first). */
  entry(rel: string): Entry {
    const p = normalRel(rel);
    if (recorders.length) note(p);
    if (this.overlay.has(p)) return this.overlay.get(p) === null ? { kind: "missing" } : { kind: "file" };
    // A directory component through which the path would leave the tree blocks the overlay's files too.
    return this.source.entry(p);
  }

  /**
   * Where a path, or a directory on the way to it, leaves the tree: applying a patch there is refused, as git
   * apply refuses a path beyond a symbolic link.
   */
  escapes(rel: string): Blocked | undefined {
    const path = safeRel(rel);
    const parts = path.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (recorders.length) note(p);
      if (this.overlay.has(p)) return undefined;
      const e = this.source.entry(p);
      if (e.kind === "outside") return { path, entry: e };
      if (e.kind !== "dir") return undefined;
    }
    return undefined;
  }

  read(rel: string): string | undefined {
    const p = normalRel(rel);
    if (recorders.length) note(p);
    if (this.overlay.has(p)) return this.overlay.get(p) ?? undefined;
    return this.source.read(p);
  }

  /** Is the path reached through a symlink? A source that cannot tell is taken to say yes. */
  reachedThroughLink(rel: string): boolean {
    return this.source.reachedThroughLink?.(normalRel(rel)) ?? true;
  }

  /** Whether reading files together is cheaper than one by one (readAhead does something). */
  get readsAhead(): boolean {
    return this.source.readAhead !== undefined;
  }

  /** Files about to be read: the source may fetch them together (it records nothing; reading them does). */
  readAhead(rels: readonly string[]): void {
    this.source.readAhead?.(rels.filter((p) => !this.overlay.has(p)));
  }

  /** A file's bytes in this state (the overlay's text encoded once). */
  bytes(rel: string): Buffer | undefined {
    const p = normalRel(rel);
    if (recorders.length) note(p);
    if (!this.overlay.has(p)) return this.source.bytes(p);
    const t = this.overlay.get(p);
    if (t == null) return undefined;
    let b = this.encoded.get(p);
    if (!b) this.encoded.set(p, (b = Buffer.from(t, "utf8")));
    return b;
  }

  private readonly encoded = new Map<string, Buffer>();

  exists(rel: string): boolean {
    return this.entry(rel).kind === "file";
  }

  /** Files under a directory (recursively), disk and overlay, sorted; `filter` on the relative path. */
  list(dirRel: string, filter: (rel: string) => boolean): string[] {
    return this.listing(dirRel, filter).files;
  }

  /** As list(), with the paths under the directory that kspec refused to read. */
  listing(dirRel: string, filter: (rel: string) => boolean): { files: string[]; blocked: Blocked[] } {
    const key = safeRel(dirRel);
    const all = this.source.files(key);
    if (recorders.length) for (const d of all.dirs) note(`${d}/`);
    const out = new Set(all.files.filter((f) => this.overlay.get(f) !== null));
    for (const [k, v] of this.overlay) if (v !== null && k.startsWith(key + "/")) out.add(k);
    return { files: [...out].filter(filter).sort(), blocked: all.blocked.filter((b) => filter(b.path)) };
  }
}
