// Command stage: output plumbing shared by the commands — streams, tables, JSON, atomic file writes.

import {
  accessSync,
  constants,
  existsSync,
  fstatSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { InputError } from "../spec/errors.js";
import { mkdirs, pause, writeAtomic } from "../spec/files.js";
import { tty } from "../spec/packages.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** `text` in the colour of `tone` when standard output is a terminal that wants colour; else as it is. */
  paint(tone: Tone, text: string): string;
  /** A progress line on standard error for a step that may take a while (a terminal only; see processIo). */
  progress(step: string): void;
  /** Ends the progress display (the last line is erased), before the command's own output. */
  done(): void;
}

/**
 * What a painted word says: `bad` for a disagreement or an error (differs, an error, not bisectable), `unsure` for
 * what kspec could not decide (unverifiable, a warning). Nothing else is coloured: equal and plain text stay
 * plain, so colour marks only what a reader must look at.
 */
export type Tone = "bad" | "unsure";
const SGR: Readonly<Record<Tone, string>> = { bad: "\x1b[31m", unsure: "\x1b[33m" };

/** The tone of a verdict word ("differs", "unverifiable"...), undefined for words that stay plain. */
export function toneOf(word: string): Tone | undefined {
  return ["differs", "error"].includes(word)
    ? "bad"
    : ["unverifiable", "warning"].includes(word)
      ? "unsure"
      : undefined;
}

/** Paint a verdict word by its tone (the text may be the word padded for a column). */
export function paintWord(io: Pick<Io, "paint">, word: string, text = word): string {
  const tone = toneOf(word);
  return tone ? io.paint(tone, text) : text;
}

/**
 * Colour only for a terminal, never when NO_COLOR is set to anything but "" (no-color.org) or TERM is dumb:
 * output piped to a file, a CI log or another tool carries no escape codes.
 */
export function wantsColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !env.NO_COLOR && env.TERM !== "dumb";
}

/**
 * Progress appears only once a run has lasted a second: quick commands print nothing, and a long one (a series
 * of many patches, a log over a long history) shows which step it is at, on one line rewritten in place.
 * KSPEC_PROGRESS_AFTER_MS changes the second (0: from the first step).
 */
const PROGRESS_AFTER_MS = (() => {
  const v = process.env.KSPEC_PROGRESS_AFTER_MS?.trim();
  return v && Number.isFinite(Number(v)) ? Number(v) : 1000;
})();
let progressShown = false;

/**
 * A reader that goes away (`kspec eval | head -1`) is not an error: the rest of the output is dropped and the
 * process ends with the exit code its result has, never with a stack trace or a code that means "differs".
 */
const gone = { 1: false, 2: false };

/**
 * All of `text` on a descriptor, written before this returns. Not through process.stdout: creating that stream
 * loads net (a pipe) or tty (~3 ms of every run), and a synchronous write leaves nothing to wait for at exit.
 * EAGAIN: the descriptor is a non-blocking pipe whose reader is behind (wait for it); EPIPE: the reader is gone.
 */
function writeAll(fd: 1 | 2, text: string): void {
  if (gone[fd]) return;
  const b = Buffer.from(text, "utf8");
  for (let off = 0; off < b.length;) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") pause(1);
      else if (code === "EPIPE") {
        gone[fd] = true;
        return;
      } else throw e;
    }
  }
}

const terminals = new Map<number, boolean>();
/**
 * Is the descriptor a terminal? A pipe or a file (output read by a tool, a CI log) is told apart by fstat, without
 * loading node:tty.
 */
function isTerminal(fd: 1 | 2): boolean {
  let t = terminals.get(fd);
  if (t === undefined) {
    try {
      t = fstatSync(fd).isCharacterDevice() && tty().isatty(fd);
    } catch {
      t = false;
    }
    terminals.set(fd, t);
  }
  return t;
}

export const processIo: Io = {
  out: (t) => {
    processIo.done();
    writeAll(1, t);
  },
  err: (t) => {
    processIo.done();
    writeAll(2, t);
  },
  paint: (tone, text) => (wantsColour({ isTTY: isTerminal(1) }) ? `${SGR[tone]}${text}\x1b[0m` : text),
  progress: (step) => {
    if (performance.now() < PROGRESS_AFTER_MS || !isTerminal(2) || gone[2]) return;
    const width = Math.max(20, (process.stderr.columns || 80) - 1);
    writeAll(2, `\r\x1b[K${`kspec: ${step}`.slice(0, width)}`);
    progressShown = true;
  },
  done: () => {
    if (!progressShown) return;
    progressShown = false;
    writeAll(2, "\r\x1b[K");
  },
};

/** The same streams without progress lines: for --json and --sarif runs, whose output tools read. */
export const quiet = (io: Io): Io => ({ ...io, progress: () => {} });

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
