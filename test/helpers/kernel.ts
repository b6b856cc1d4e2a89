// Test helper: the project's kernel scripts (git worktrees, the kernel's own build, the selftest build) and the
// kernel's own checkpatch, run as a developer would.

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./run.js";
import type { Version } from "./trees.js";

export const CACHE = process.env.KSPEC_CACHE ?? join(homedir(), ".cache", "kspec");

export interface Sh {
  code: number;
  /** Standard output and error together, for messages. */
  out: string;
  stdout: string;
}

export function sh(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Sh {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, stdout: r.stdout ?? "" };
}

function script(name: string, args: readonly string[]): Sh {
  return sh("bash", [join(REPO, "scripts", name), ...args]);
}

/** The base commit of a version's repository, and a clean worktree at it (reused between tests). */
export function worktree(v: Version, name: string): { dir: string; base: string } {
  const dir = join(CACHE, "work", `test-${v}-${name}`);
  const r = script("kernel-git.sh", [v, "--fresh-worktree", dir]);
  if (r.code !== 0) throw new Error(`kernel-git.sh ${v}: ${r.out}`);
  // Only standard output carries the answer: creating the repository first reports progress on stderr.
  return { dir, base: r.stdout.trim().split("\n").pop()!.split(" ")[2] };
}

export function repo(v: Version): { dir: string; base: string } {
  const r = script("kernel-git.sh", [v]);
  if (r.code !== 0) throw new Error(`kernel-git.sh ${v}: ${r.out}`);
  const [, dir, base] = r.stdout.trim().split("\n").pop()!.split(" ");
  return { dir, base };
}

export function build(src: string, v: Version, objs: readonly string[]): Sh {
  return script("kernel-build.sh", [src, join(CACHE, "build", `test-${v}`), ...objs]);
}

export function selftestBuild(src: string, v: Version, tests: readonly string[]): Sh {
  return script("kernel-selftest-build.sh", [src, join(CACHE, "selftest", `test-${v}`), ...tests]);
}

export function checkpatch(tree: string, patch: string): Sh {
  return sh("perl", ["scripts/checkpatch.pl", "--strict", "--color=never", patch], { cwd: tree });
}

/** A git configuration holding a test developer's identity, as a user's ~/.gitconfig would. */
export function gitIdentity(
  name = "Test Developer",
  email = "test.developer@example.org",
): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), "kspec-gitcfg-"));
  const file = join(dir, "gitconfig");
  writeFileSync(file, `[user]\n\tname = ${name}\n\temail = ${email}\n`);
  return { GIT_CONFIG_GLOBAL: file, GIT_CONFIG_NOSYSTEM: "1" };
}
