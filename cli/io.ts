// Command stage: output plumbing shared by the commands — streams, tables, JSON, atomic file writes.

import { accessSync, constants, existsSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { InputError } from "../spec/errors.js";
import { mkdirs, writeAtomic } from "../spec/files.js";

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
    processIo.done();
    if (!gone.stdout) process.stdout.write(t);
  },
  err: (t) => {
    if (!watching) startWatching();
    processIo.done();
    if (!gone.stderr) process.stderr.write(t);
  },
  paint: (tone, text) => (wantsColour(process.stdout) ? `${SGR[tone]}${text}\x1b[0m` : text),
  progress: (step) => {
    if (!process.stderr.isTTY || performance.now() < PROGRESS_AFTER_MS || gone.stderr) return;
    if (!watching) startWatching();
    const width = Math.max(20, (process.stderr.columns || 80) - 1);
    process.stderr.write(`\r\x1b[K${`kspec: ${step}`.slice(0, width)}`);
    progressShown = true;
  },
  done: () => {
    if (!progressShown) return;
    progressShown = false;
    if (!gone.stderr) process.stderr.write("\r\x1b[K");
  },
};

/** The same streams without progress lines: for --json and --sarif runs, whose output tools read. */
export const quiet = (io: Io): Io => ({ ...io, progress: () => {} });

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
