// Command stage: output plumbing shared by the commands — streams, tables, JSON, atomic file writes.

import { accessSync, constants, existsSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { InputError } from "../spec/errors.js";
import { mkdirs, writeAtomic } from "../spec/files.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/**
 * A reader that goes away (`kspec eval | head -1`) is not an error: the rest of the output is dropped and the
 * process ends with the exit code its result has, never with a stack trace or a code that means "differs".
 */
const gone = { stdout: false, stderr: false };
function watch(name: keyof typeof gone, stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    gone[name] = true;
  });
}
let watching = false;

export const processIo: Io = {
  out: (t) => {
    if (!watching) startWatching();
    if (!gone.stdout) process.stdout.write(t);
  },
  err: (t) => {
    if (!watching) startWatching();
    if (!gone.stderr) process.stderr.write(t);
  },
};

function startWatching(): void {
  watching = true;
  watch("stdout", process.stdout);
  watch("stderr", process.stderr);
}

export { table } from "../spec/explain.js";

/** Stable JSON: two-space indentation and a final newline. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** An fs error on a path the user named, as one line: bad input (exit 2), not a bug of kspec. */
export function pathError(what: string, path: string, e: unknown): InputError {
  const err = e as NodeJS.ErrnoException;
  const reason =
    {
      EACCES: "permission denied",
      EPERM: "not permitted",
      ENOENT: "no such directory",
      ENOTDIR: "a path component is not a directory",
      EISDIR: "is a directory",
      EROFS: "read-only file system",
      ENOSPC: "no space left",
      EEXIST: "exists",
    }[err.code ?? ""] ?? err.message;
  return new InputError(`cannot ${what} ${path}: ${reason}`);
}

/** The real path `p` would have: symlinks of its nearest existing ancestor resolved, the rest appended. */
export function realTarget(p: string): string {
  let dir = resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(dir), ...rest.reverse());
    } catch {
      const up = dirname(dir);
      if (up === dir) return resolve(p);
      rest.push(basename(dir));
      dir = up;
    }
  }
}

/** kspec never writes into a kernel tree, nor into a directory that holds one (the tree could be damaged). */
export function refuseNearTree(option: string, out: string, treeRealRoot: string): void {
  const real = realTarget(out);
  const inside = (a: string, b: string) => a === b || a.startsWith(b + sep);
  if (inside(real, treeRealRoot))
    throw new InputError(
      `${option} ${out} is inside the kernel tree (${treeRealRoot}); kspec never writes there`,
    );
  if (inside(treeRealRoot, real))
    throw new InputError(
      `${option} ${out} contains the kernel tree (${treeRealRoot}); choose a directory of its own`,
    );
}

/**
 * `mkdir -p`, one component at a time: Node's recursive mkdirSync never returns where a parent refuses with
 * ENOENT (under /proc, for one).
 */
/** Writes a file so that readers see the old content or the new, never a half-written one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  writeAtomic(file, data, (step, e) =>
    pathError(step === "mkdir" ? "create the directory of" : "write", file, e),
  );
}

/** The files `gen` writes into --out: what `git format-patch -o` would write there. */
export const SERIES_FILE = /^\d{4}-[^/]*\.patch$/;

/** Where a series will go: checked before any work is done, so that bad input writes nothing. */
export interface SeriesTarget {
  dir: string;
  out: string;
  /** Files of an earlier series there, replaced or removed by --force. */
  earlier: string[];
}

/**
 * An --out for a series, as `git format-patch -o DIR` takes it: DIR may not exist yet (it is created when the
 * series is written). Files of an earlier series there (NNNN-*.patch) make it refuse, unless `force`.
 */
export function seriesTarget(out: string, force: boolean): SeriesTarget {
  const dir = resolve(out);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw pathError("use", out, e);
    // Not there yet: the nearest existing ancestor must be a directory kspec may write into.
    let up = dirname(dir);
    while (!existsSync(up)) up = dirname(up);
    try {
      if (!statSync(up).isDirectory()) throw new InputError(`cannot create ${out}: ${up} is not a directory`);
      accessSync(up, constants.W_OK);
    } catch (err) {
      throw err instanceof InputError ? err : pathError("create", out, err);
    }
    return { dir, out, earlier: [] };
  }
  if (!st.isDirectory()) throw new InputError(`--out ${out} exists and is not a directory`);
  let earlier: string[];
  try {
    earlier = readdirSync(dir, { withFileTypes: true })
      .filter((d) => SERIES_FILE.test(d.name) && (d.isFile() || d.isSymbolicLink()))
      .map((d) => d.name);
  } catch (e) {
    throw pathError("read", out, e);
  }
  if (earlier.length && !force)
    throw new InputError(
      `--out ${out} already holds a series (${earlier[0]}${earlier.length > 1 ? ` and ${earlier.length - 1} more` : ""}); --force replaces those files and no others`,
    );
  return { dir, out, earlier };
}

/**
 * The series into its directory, as `git format-patch -o DIR` writes it: DIR created if needed, only the series'
 * files written, each atomically; an earlier series' files that the new one does not have are removed. Nothing
 * else in DIR is touched.
 */
export function writeSeriesFiles(t: SeriesTarget, files: readonly { name: string; text: string }[]): void {
  try {
    mkdirs(t.dir);
  } catch (e) {
    throw pathError("create", t.out, e);
  }
  for (const f of files) writeFileAtomic(join(t.dir, f.name), f.text);
  const written = new Set(files.map((f) => f.name));
  for (const name of t.earlier.filter((n) => !written.has(n))) {
    try {
      rmSync(join(t.dir, name));
    } catch (e) {
      throw pathError("remove", join(t.out, name), e);
    }
  }
}

export function hex(mask: number): string {
  return "0x" + mask.toString(16).padStart(2, "0");
}
