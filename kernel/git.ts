// Read stage (git): a kernel tree at a revision of a git repository, read from git's objects — no checkout,
// nothing written into the repository. One `git cat-file --batch-command` process answers every request of a
// run (blobs, trees, sizes), over a pair of named pipes so that the synchronous readers of kernel/tree can ask
// it one object at a time, or the files of an include closure a batch at a time. Paths resolve as the checkout
// would have them: symlinks inside the tree followed, those leaving it refused; a file over the size limit is
// never read.

import { mkdtempSync, openSync, readSync, realpathSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, resolve } from "node:path";
import { InputError } from "../spec/errors.js";
import { childProcess } from "../spec/packages.js";
import {
  KernelTree,
  MAX_TREE_FILE,
  Q,
  requireDirectory,
  SourceBase,
  type Blocked,
  type Entry,
  type Shared,
  type TreeSource,
  type Walk,
  use,
} from "./tree.js";

/** git ran and failed (as against git missing): its first error line. */
class GitFailed extends InputError {}

/** Runs git in a repository; its first error line becomes an InputError. */
export function git(repo: string, args: readonly string[], input?: string): string {
  try {
    return childProcess().execFileSync("git", ["-C", repo, ...args], {
      encoding: "utf8",
      input,
      maxBuffer: 1 << 30,
      stdio: ["pipe", "pipe", "pipe"],
      // Paths are paths, never patterns; reading takes no lock.
      env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", GIT_LITERAL_PATHSPECS: "1" },
    });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === "ENOENT") throw new InputError("git is needed to read a revision and is not installed");
    throw new GitFailed(`git ${args[0]}: ${(err.stderr || err.message).trim().split("\n")[0]}`);
  }
}

/** The repository of a directory (a work tree or a bare repository), or an InputError. */
export function gitDirOf(dir: string): string {
  requireDirectory(dir);
  let gd: string;
  try {
    gd = git(dir, ["rev-parse", "--absolute-git-dir"]).trim();
  } catch (e) {
    // Only git's own refusal means "not a repository"; a missing git says so itself.
    if (e instanceof GitFailed)
      throw new InputError(`${resolve(dir)}: not a git repository (a revision needs one)`);
    throw e;
  }
  return realpathSync(gd);
}

/** A revision's commit id (full), or an InputError naming the revision. */
export function commitOf(gitDir: string, rev: string): string {
  if (rev.startsWith("-")) throw new InputError(`not a revision: ${rev}`);
  try {
    return git(gitDir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]).trim();
  } catch {
    throw new InputError(`${rev}: not a commit of ${gitDir}`);
  }
}

/** A tree object's entries: name -> mode and object id. */
type TreeEntries = Map<string, { mode: string; oid: string }>;

/**
 * A `git cat-file --batch-command` process of one repository, asked synchronously: a request is a line written
 * to one named pipe, its answer read from the other.
 */
class CatFile {
  private readonly w: number;
  private readonly r: number;
  private buf = Buffer.alloc(0);
  private readonly chunk = Buffer.allocUnsafe(1 << 16);

  constructor(gitDir: string) {
    const dir = mkdtempSync(join(tmpdir(), "kspec-git-"));
    const inP = join(dir, "in");
    const outP = join(dir, "out");
    try {
      childProcess().execFileSync("mkfifo", ["-m", "600", inP, outP]);
      // The shell opens the pipes before it runs git: if git cannot start, both ends still open and then close,
      // and a read here ends instead of waiting forever.
      const child = childProcess().spawn(
        "sh",
        ["-c", 'exec git --git-dir="$0" cat-file --batch-command <"$1" >"$2"', gitDir, inP, outP],
        { stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, GIT_OPTIONAL_LOCKS: "0" } },
      );
      child.unref();
      this.w = openSync(inP, "w");
      this.r = openSync(outP, "r");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private fill(): void {
    const n = readSync(this.r, this.chunk, 0, this.chunk.length, null);
    if (n === 0) throw new InputError("git cat-file ended unexpectedly");
    this.buf = this.buf.length
      ? Buffer.concat([this.buf, this.chunk.subarray(0, n)])
      : Buffer.from(this.chunk.subarray(0, n));
  }

  private line(): string {
    let nl: number;
    while ((nl = this.buf.indexOf(10)) < 0) this.fill();
    const s = this.buf.toString("utf8", 0, nl);
    this.buf = this.buf.subarray(nl + 1);
    return s;
  }

  /**
   * The next `n` bytes. What is not buffered yet is read straight into the result, never past it: a large blob
   * costs no chain of concatenations, and the next answer stays in the pipe for line() to read.
   */
  private bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let have = Math.min(n, this.buf.length);
    this.buf.copy(out, 0, 0, have);
    this.buf = this.buf.subarray(have);
    while (have < n) {
      const got = readSync(this.r, out, have, n - have, null);
      if (got === 0) throw new InputError("git cat-file ended unexpectedly");
      have += got;
    }
    return out;
  }

  /** An object's content; undefined (and the content skipped, never held) when it is over `limit` bytes. */
  contents(oid: string, limit = Infinity): Buffer | undefined {
    return this.contentsOf([oid], limit)[0];
  }

  /**
   * Several objects' contents, asked in one write and answered in order: a round trip to git costs about as much
   * as reading a header, so the thousand headers of an include closure are asked for a few hundred at a time. A
   * batch stays well under a pipe's capacity, so the write never waits for git while git waits for a read.
   */
  contentsOf(oids: readonly string[], limit = Infinity): (Buffer | undefined)[] {
    const out: (Buffer | undefined)[] = [];
    let missing: string | undefined;
    for (let i = 0; i < oids.length; i += BATCH) {
      const batch = oids.slice(i, i + BATCH);
      writeSync(this.w, batch.map((o) => `contents ${o}\n`).join(""));
      // Every answer of the batch is read, a missing object's too, so that the next request reads its own.
      for (const oid of batch) {
        const a = this.answer(oid, limit);
        if (a === MISSING) missing ??= oid;
        out.push(a === MISSING ? undefined : a);
      }
    }
    if (missing) throw new InputError(`git cat-file: no object ${missing}`);
    return out;
  }

  private answer(oid: string, limit: number): Buffer | undefined | typeof MISSING {
    const head = this.line();
    if (head.endsWith(" missing")) return MISSING;
    const m = /^([0-9a-f]{40,64}) (\w+) (\d+)$/.exec(head);
    // Anything else means the answers are no longer in step with the requests: nothing more can be trusted.
    if (!m) throw new InputError(`git cat-file: unexpected answer for ${oid}: ${head.slice(0, 80)}`);
    const size = Number(m[3]);
    if (size > limit) {
      for (let left = size + 1; left > 0;) {
        if (!this.buf.length) this.fill();
        const n = Math.min(left, this.buf.length);
        this.buf = this.buf.subarray(n);
        left -= n;
      }
      oversized.set(oid, size);
      return undefined;
    }
    const body = this.bytes(size);
    this.bytes(1); // the newline after the content
    return body;
  }
}

/** The sizes of objects not read for being over a limit, by id (what a too-large problem reports). */
const oversized = new Map<string, number>();

/** cat-file's answer for an object the repository does not have. */
const MISSING = Symbol("missing");

/** Requests written at once: a request line is at most ~75 bytes, a pipe holds 64 KiB. */
const BATCH = 256;

const catFiles = new Map<string, CatFile>();

/**
 * Objects read so far, by id, for every commit of a run: a history shares most of its blobs, and the same Buffer
 * for the same blob lets everything kept with a file's bytes (its #include lines, its macros) carry over.
 * Bounded by size; the oldest go first.
 */
const blobs = new Map<string, Buffer>();
const trees = new Map<string, TreeEntries>();
let blobBytes = 0;
const MAX_BLOB_BYTES = 512 << 20;

/**
 * A blob's bytes, or undefined when it is over `limit` (its size kept in `oversized`): what was too large for
 * one limit (a symlink's target, 4 KiB) may still be read under another (a file's, 16 MiB).
 */
function blob(cat: CatFile, oid: string, limit: number): Buffer | undefined {
  fetchBlobs(cat, [oid], limit);
  const b = blobs.get(oid);
  return b && b.length <= limit ? b : undefined;
}

/** Reads into the blob cache those of `oids` it does not hold (and may read under `limit`), in batches. */
function fetchBlobs(cat: CatFile, oids: readonly string[], limit: number): void {
  const wanted = [...new Set(oids.filter((o) => !blobs.has(o) && !((oversized.get(o) ?? -1) > limit)))];
  const got = cat.contentsOf(wanted, limit);
  wanted.forEach((oid, i) => got[i] && keep(oid, got[i]));
}

function keep(oid: string, b: Buffer): void {
  blobs.set(oid, b);
  blobBytes += b.length;
  while (blobBytes > MAX_BLOB_BYTES) {
    const [k, v] = blobs.entries().next().value!;
    blobs.delete(k);
    blobBytes -= v.length;
  }
}

function treeObject(cat: CatFile, oid: string, idLen: number): TreeEntries {
  let t = trees.get(oid);
  if (!t) {
    if (trees.size >= 65536) trees.delete(trees.keys().next().value!);
    trees.set(oid, (t = parseTree(cat.contents(oid)!, idLen)));
  }
  return t;
}

function catFile(gitDir: string): CatFile {
  let c = catFiles.get(gitDir);
  if (!c) catFiles.set(gitDir, (c = new CatFile(gitDir)));
  return c;
}

/** The entries of a tree object (mode SP name NUL id). */
function parseTree(raw: Buffer, idLen: number): TreeEntries {
  const out: TreeEntries = new Map();
  for (let i = 0; i < raw.length;) {
    const sp = raw.indexOf(32, i);
    const nul = raw.indexOf(0, sp);
    const mode = raw.toString("latin1", i, sp);
    const name = raw.toString("utf8", sp + 1, nul);
    const oid = raw.toString("hex", nul + 1, nul + 1 + idLen);
    out.set(name, { mode, oid });
    i = nul + 1 + idLen;
  }
  return out;
}

const sharedByRepo = new Map<string, Map<string, Shared[]>>();

/** Symlinks followed within one lookup at most (as the kernel's path walk allows). */
const MAX_LINKS = 40;

/** A tree at a commit, read through git: the source of a KernelTree. */
export class GitSource extends SourceBase implements TreeSource {
  readonly realRoot: string;
  readonly contentAddressed = true;
  /** Shared by every commit of the repository: entries are checked against each commit's own objects. */
  readonly shared: Map<string, Shared[]>;
  readonly diskMemos = new Map<string, unknown>();
  private readonly cat: CatFile;
  private readonly trees = new Map<string, TreeEntries | Entry>();
  private readonly entries = new Map<string, Entry & { oid?: string }>();
  private readonly raw = new Map<string, Buffer>();
  /**
   * Paths reached through a symlink (the path itself, or a directory on the way): every access is recorded as
   * Q.link, whenever the lookup was made, since a list of changed paths names the link's target, not them.
   */
  private readonly linked = new Set<string>();
  private readonly idLen: number;

  constructor(
    readonly gitDir: string,
    readonly commit: string,
    readonly treeOid: string,
    /** The work tree's top directory, or the git directory of a bare repository: no write may go there. */
    realRoot: string,
  ) {
    super();
    this.realRoot = realRoot;
    let sh = sharedByRepo.get(gitDir);
    if (!sh) sharedByRepo.set(gitDir, (sh = new Map()));
    this.shared = sh;
    this.cat = catFile(gitDir);
    this.idLen = commit.length / 2;
  }

  /** The entries of a directory of the tree, or what it is instead. */
  private dir(rel: string): TreeEntries | Entry {
    let t = this.trees.get(rel);
    if (t) return t;
    let oid: string | undefined;
    if (rel === "") oid = this.treeOid;
    else {
      const e = this.entry(rel);
      oid = e.kind === "dir" ? (e as { oid?: string }).oid : undefined;
      if (!oid) {
        t = e.kind === "outside" ? e : { kind: "missing" };
        this.trees.set(rel, t);
        return t;
      }
    }
    t = treeObject(this.cat, oid, this.idLen);
    this.trees.set(rel, t);
    return t;
  }

  /** Is the path reached through a symlink (itself, or a directory on the way)? */
  reachedThroughLink(rel: string): boolean {
    this.lookup(rel, 0);
    return this.linked.has(rel);
  }

  entry(rel: string): Entry {
    return this.reached(rel);
  }

  /** A path's entry, recording Q.link where it was reached through a symlink (see `linked`). */
  private reached(rel: string): Entry & { oid?: string } {
    const e = this.lookup(rel, 0);
    if (this.linked.has(rel)) use(rel, Q.link);
    return e;
  }

  private lookup(rel: string, links: number): Entry & { oid?: string } {
    let e = this.entries.get(rel);
    if (e) return e;
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    const d = this.dir(parent);
    if (this.linked.has(parent)) this.linked.add(rel);
    if (!(d instanceof Map)) e = d.kind === "outside" ? d : { kind: "missing" };
    else {
      const x = d.get(name);
      if (!x) e = { kind: "missing" };
      else if (x.mode === "40000" || x.mode === "040000")
        e = { kind: "dir", oid: x.oid } as Entry & { oid: string };
      else if (x.mode === "120000") {
        this.linked.add(rel);
        // A symlink: its target, relative to its directory, decides (as a checkout's realpath would).
        // A target longer than a path can be (PATH_MAX) makes a link the kernel cannot follow: nothing is there.
        const target = blob(this.cat, x.oid, 4096)?.toString("utf8");
        const joined = target === undefined ? "" : posix.normalize(posix.join(parent, target));
        if (target === undefined || target === "") e = { kind: "missing" };
        else if (target.startsWith("/") || joined === ".." || joined.startsWith("../"))
          e = { kind: "outside", target, via: rel };
        else if (links >= MAX_LINKS) e = { kind: "missing" };
        else {
          const t = this.lookup(joined === "." ? "" : joined, links + 1);
          e = t.kind === "outside" ? { ...t, via: rel } : t;
        }
      } else if (x.mode === "100644" || x.mode === "100755") {
        // Its size is checked when it is read (too-large then), as on disk: no request per entry.
        e = { kind: "file", oid: x.oid } as Entry & { oid: string };
      } else e = { kind: "missing" }; // a submodule: no file of this tree
    }
    this.entries.set(rel, e);
    return e;
  }

  bytes(rel: string): Buffer | undefined {
    const e = this.reached(rel);
    if (e.kind !== "file" || !e.oid) return undefined;
    let b = this.raw.get(rel);
    if (!b) {
      b = blob(this.cat, e.oid, MAX_TREE_FILE);
      if (!b) {
        // The blob's id stays with the entry: a file over the limit is not nothing (signature()).
        const big = { kind: "too-large", size: oversized.get(e.oid) ?? MAX_TREE_FILE + 1, oid: e.oid };
        this.entries.set(rel, big as Entry & { oid: string });
        return undefined;
      }
      this.raw.set(rel, b);
    }
    return b;
  }

  /** Files about to be read, asked of git together (their directories are looked up one by one). */
  readAhead(rels: readonly string[]): void {
    const oids: string[] = [];
    for (const rel of rels) {
      const e = this.lookup(rel, 0);
      if (e.kind === "file" && e.oid && !this.raw.has(rel)) oids.push(e.oid);
    }
    fetchBlobs(this.cat, oids, MAX_TREE_FILE);
  }

  protected walkInto(rel: string, w: Walk): void {
    this.walk(rel, w);
  }

  private walk(
    rel: string,
    w: { files: string[]; blocked: Blocked[]; dirs: string[] },
    seen = new Set<string>(),
  ): void {
    const d = this.dir(rel);
    if (!(d instanceof Map)) {
      if (d.kind === "outside") w.blocked.push({ path: rel, entry: d });
      return;
    }
    // A directory reached twice through symlinks (a loop) is walked once, as on disk.
    const oid = rel === "" ? this.treeOid : (this.lookup(rel, 0).oid ?? rel);
    if (seen.has(oid)) return;
    seen.add(oid);
    w.dirs.push(rel);
    for (const name of [...d.keys()].sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const e = this.entry(r);
      if (e.kind === "dir") this.walk(r, w, seen);
      else if (e.kind === "file") w.files.push(r);
      else if (e.kind === "outside" || e.kind === "too-large") w.blocked.push({ path: r, entry: e });
    }
  }

  /** The object id at a path ("-" where there is none): the content itself names it. */
  signature(rel: string): string {
    if (rel === "") return this.treeOid;
    const e = this.lookup(rel, 0);
    const sig = e.oid ?? (e.kind === "outside" ? `outside:${e.via}>${e.target}` : "-");
    // The same objects reached through a link are not the same reading: what the path depends on includes the
    // link, which a kept result must have recorded (Q.link).
    return this.linked.has(rel) ? `${sig}@link` : sig;
  }
}

/** A tree at a revision: `DIR@REV`, read from git objects. */
export function openRevision(dir: string, rev: string): KernelTree {
  const gitDir = gitDirOf(dir);
  const commit = commitOf(gitDir, rev);
  const treeOid = git(gitDir, ["rev-parse", `${commit}^{tree}`]).trim();
  let top = gitDir;
  try {
    const t = git(dir, ["rev-parse", "--show-toplevel"]).trim();
    if (t) top = realpathSync(t);
  } catch {
    // A bare repository: its git directory is all there is.
  }
  return new KernelTree(`${dir}@${rev}`, new Map(), new GitSource(gitDir, commit, treeOid, top));
}

// ---- history ---------------------------------------------------------------------------------------------

export interface CommitInfo {
  commit: string;
  tree: string;
  parents: string[];
  subject: string;
}

/** Revision arguments as git takes them; an option (a leading '-') is refused: it would not be a revision. */
function revisions(range: readonly string[]): string[] {
  for (const r of range)
    if (r.startsWith("-") || r === "") throw new InputError(`not a revision range: '${r}'`);
  return range.length ? [...range] : ["HEAD"];
}

/** The commits of a range, oldest first, parents before children. */
export function history(gitDir: string, range: readonly string[]): CommitInfo[] {
  const out = git(gitDir, [
    "log",
    "--reverse",
    "--topo-order",
    "--format=%H %T %P%x00%s",
    "-z",
    "--end-of-options",
    ...revisions(range),
    "--",
  ]);
  const fields = out.split("\0");
  const commits: CommitInfo[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const head = fields[i].replace(/^\n/, "").trim();
    if (!head) continue;
    const [commit, tree, ...parents] = head.split(" ");
    commits.push({ commit, tree, parents, subject: fields[i + 1] });
  }
  return commits;
}

/**
 * What each commit of a range changes: the paths that differ from its first parent (for a merge too; every path
 * of a root commit). One walk by git for the whole range, however many sets of paths are asked about later.
 */
export function changedPaths(gitDir: string, range: readonly string[]): Map<string, string[]> {
  const out = git(gitDir, [
    "log",
    "--format=%x00%x01%H",
    "--name-only",
    "-z",
    "--no-renames",
    "--diff-merges=first-parent",
    "--end-of-options",
    ...revisions(range),
    "--",
  ]);
  const changed = new Map<string, string[]>();
  let paths: string[] | undefined;
  // Each commit is \0\x01<id>\0, then \n before the first path of its list, then path\0 for each. A path is never
  // empty, so an empty field followed by \x01<id> is a commit, whatever a file may be called.
  const fields = out.split("\0");
  for (let i = 0; i < fields.length; i++) {
    const head = fields[i] === "" ? /^\x01([0-9a-f]{40,64})$/.exec(fields[i + 1] ?? "") : null;
    if (head) {
      changed.set(head[1], (paths = []));
      i++;
    } else if (paths && fields[i] !== "") paths.push(paths.length ? fields[i] : fields[i].replace(/^\n/, ""));
  }
  return changed;
}

/** The tree of one commit, read from git objects (its tree id when the caller has it already). */
export function openCommit(gitDir: string, commit: string, shown: string, treeOid?: string): KernelTree {
  const tree = treeOid ?? git(gitDir, ["rev-parse", `${commit}^{tree}`]).trim();
  return new KernelTree(shown, new Map(), new GitSource(gitDir, commit, tree, gitDir));
}

/**
 * The commits of BASE..TIP as git format-patch writes them (one mbox): a series as verify-patch reads any
 * other, applied to the tree at BASE.
 */
export function formatPatches(
  dir: string,
  base: string,
  tip: string,
): { tree: KernelTree; mbox: Buffer; count: number } {
  const gitDir = gitDirOf(dir);
  const [b, t] = [commitOf(gitDir, base), commitOf(gitDir, tip)];
  const count = Number(git(gitDir, ["rev-list", "--count", `${b}..${t}`]).trim());
  if (count === 0) throw new InputError(`${base}..${tip}: no commits`);
  const mbox = git(gitDir, ["format-patch", "--stdout", "--no-signature", "--no-renames", `${b}..${t}`]);
  return { tree: openRevision(dir, base), mbox: Buffer.from(mbox, "utf8"), count };
}
