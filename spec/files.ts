// Input stage: bounded reads of untrusted files and of standard input, and atomic writes. Reading stops at the
// limit plus one byte, so that a huge file or an endless pipe (`yes | kspec ...`) costs at most the limit.

import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  type Stats,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { InputError } from "./errors.js";

export class TooLarge extends InputError {
  constructor(
    readonly what: string,
    readonly limit: number,
    /** The size, where it is known (a file's, from its stat); a stream is only known to be over the limit. */
    readonly size?: number,
  ) {
    super(`${what}: larger than the ${formatBytes(limit)} limit`);
  }
}

export function formatBytes(n: number): string {
  return n >= 1 << 20 && n % (1 << 20) === 0
    ? `${n >> 20} MiB`
    : n >= 1024
      ? `${Math.round(n / 1024)} KiB`
      : `${n} bytes`;
}

const CHUNK = 1 << 16;

/** Blocks the thread briefly: standard input or output may be a non-blocking pipe that is not ready yet. */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** `hint`: the size fstat reported (a file can still grow while it is read: the limit holds either way). */
function readFd(fd: number, what: string, limit: number, hint = 0): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    // The first read asks for the whole file plus one byte (one read, no copy); later ones for a chunk.
    const want = total === 0 && hint > 0 ? hint + 1 : CHUNK;
    const buf = Buffer.allocUnsafe(Math.min(want, limit + 1 - total));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        pause(5);
        continue;
      }
      if (code === "EOF") break;
      throw new InputError(`cannot read ${what}: ${(e as Error).message}`);
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > limit) throw new TooLarge(what, limit);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/**
 * A file's bytes, for the many small files of a kernel tree: open, fstat the descriptor for the size, then one read
 * of that size (four system calls a file: no second path lookup, no read to find the end).
 * O_NONBLOCK: a FIFO put where a header should be must not hang the open.
 */
export function readFileBounded(
  file: string,
  limit: number,
  what = file,
  /** Given the descriptor's stat, taken before the read (what a cache entry made from these bytes may record). */
  seen?: (st: Stats) => void,
): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new InputError(`cannot read ${what}: not a regular file`);
    if (st.size > limit) throw new TooLarge(what, limit, st.size);
    seen?.(st);
    // As readFileSync(fd) reads, without the fstat it would repeat. A file that grows meanwhile is read as far as
    // the stat says: the bytes agree with the signature taken.
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    for (let k; n < buf.length && (k = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += k;
    return n < buf.length ? buf.subarray(0, n) : buf;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** A file's bytes, or an InputError: unreadable, not a regular file, or over `limit` bytes. */
export function readBounded(file: string, limit: number, what = file): Buffer {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new InputError(`cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    // A FIFO or a device could block forever or never end; a directory has no bytes.
    if (!st.isFile()) throw new InputError(`cannot read ${what}: not a regular file`);
    if (st.size > limit) throw new TooLarge(what, limit);
    return readFd(fd, what, limit, st.size);
  } finally {
    closeSync(fd);
  }
}

/** Standard input, whatever it is (a pipe, a file, a terminal), up to `limit` bytes. */
export function readStdin(limit: number): Buffer {
  return readFd(0, "<stdin>", limit);
}

// ---- temporary directories -------------------------------------------------------------------------------

const temps = new Set<string>();
let handlersInstalled = false;

/** Helper processes writing into a temporary directory (git mailinfo): stopped before it is removed. */
const helpers = new Set<{ kill(signal?: NodeJS.Signals): boolean }>();

/** A child process that works in a temporary directory, until it exits. */
export function trackHelper(child: import("node:child_process").ChildProcess): void {
  helpers.add(child);
  child.on("exit", () => helpers.delete(child));
}

function removeTemps(): void {
  for (const d of temps) {
    try {
      // Retries: a helper stopped a moment ago may still be creating a file in it.
      rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
    } catch {
      // Nothing more can be done on the way out; the status still says how the run ended.
    }
  }
  temps.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  for (const h of helpers) h.kill("SIGKILL");
  removeTemps();
  // The conventional status of a process ended by a signal: 128 + its number.
  process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGHUP" ? 1 : 15));
}

/**
 * A fresh directory under the system's temporary directory, removed by `release`, at exit, and on SIGINT,
 * SIGTERM or SIGHUP: an interrupted run leaves nothing behind. Signal handlers exist only while a directory
 * does, so that an interrupt at any other time ends the process at once, as it would without kspec's help.
 */
export function tempDir(prefix: string): { dir: string; release(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.add(dir);
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on("exit", removeTemps);
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
  }
  return {
    dir,
    release() {
      rmSync(dir, { recursive: true, force: true });
      temps.delete(dir);
      if (temps.size === 0 && handlersInstalled) {
        handlersInstalled = false;
        process.off("exit", removeTemps);
        for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, onSignal);
      }
    },
  };
}

/** Creates a directory and its missing parents, each with its own mkdir (never through a dangling symlink). */
export function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) missing.push(d);
  for (const d of missing.reverse()) mkdirSync(d);
}

/**
 * Writes a file so that readers see the old content or the new, never a half-written one: a temporary file of
 * this process in the same directory, renamed over the target. `fail` turns an error into what is thrown.
 */
export function writeAtomic(
  file: string,
  data: string | Uint8Array,
  fail: (step: "mkdir" | "write", e: unknown) => Error = (_, e) => e as Error,
): void {
  try {
    mkdirs(dirname(file));
  } catch (e) {
    throw fail("mkdir", e);
  }
  const tmp = join(dirname(file), `.${basename(file)}.kspec-tmp-${process.pid}`);
  try {
    writeFileSync(tmp, data, { flag: "wx" });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fail("write", e);
  }
}
