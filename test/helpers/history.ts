// Test helper: the git history of vmx_get_mt_mask() that scripts/history.ts builds, made from the Debian 6.12
// tree the tests use.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { buildHistory as build, partialTree, type History } from "../../scripts/history.js";
import { sh } from "./kernel.js";
import { treeDir } from "./trees.js";

export type { History };

export function buildHistory(): History {
  return build(treeDir("6.12"));
}

/**
 * A small repository of its own: the files the checker reads of the Debian 6.12 tree, committed as "base", with
 * helpers to edit files and commit (each commit's id kept by name).
 */
export function smallRepo() {
  const dir = partialTree(treeDir("6.12"), "arch/x86/kvm/vmx/vmx.c");
  const ids = new Map<string, string>();
  const git = (...args: string[]) => {
    const r = sh("git", ["-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.org", ...args]);
    expect(r.code, r.out).toBe(0);
    return r.stdout.trim();
  };
  const edit = (file: string, f: (t: string) => string) => {
    const p = join(dir, file);
    const before = existsSync(p) ? readFileSync(p, "utf8") : "";
    const after = f(before);
    expect(after).not.toBe(before);
    writeFileSync(p, after);
  };
  const commit = (name: string) => {
    git("add", "-A", "-f");
    git("commit", "-q", "-m", name);
    ids.set(name, git("rev-parse", "HEAD"));
  };
  git("init", "-q", "-b", "main");
  commit("base");
  return { dir, ids, git, edit, commit };
}
