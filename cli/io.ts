// Command stage: output plumbing shared by the commands — streams, tables, JSON, atomic file writes.

import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, basename } from "node:path";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export { table } from "../spec/explain.js";

/** Stable JSON: two-space indentation and a final newline. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** Writes a file so that readers see the old content or the new, never a half-written one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.kspec-tmp-${process.pid}`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function hex(mask: number): string {
  return "0x" + mask.toString(16).padStart(2, "0");
}
