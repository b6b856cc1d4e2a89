// Test helper: runs the built `kspec` command as a user would, capturing output and exit code.

import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");
export const BIN = join(REPO, "bin", "kspec.cjs");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function kspec(
  args: readonly string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    input: opts.input,
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function kspecJson(
  args: readonly string[],
  opts?: Parameters<typeof kspec>[1],
): { code: number; json: any; stderr: string } {
  const r = kspec(args, opts);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout.slice(0, 500)}\n${r.stderr.slice(0, 2000)}`);
  }
  return { code: r.code, json, stderr: r.stderr };
}
