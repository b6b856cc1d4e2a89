// Tests of how the installed command starts (cli/launch.cts): the bundle, tree-sitter and @babel/parser run with the V8 code
// caches the build trained; a cache made from another build or another file is never handed to V8, even at the
// same length (V8 would take it); a cache V8 rejects (other flags) costs only time. Each time, the same output.

import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";
import { writeUserPolicy } from "../scripts/user-policy.js";

/** Runs a kspec installed at `root` with KSPEC_STATS, and what its launcher says of the code caches. */
function run(root: string, args: string[], nodeFlags: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeFlags, join(root, "bin", "kspec.cjs"), ...args], {
    encoding: "utf8",
    env: { ...process.env, KSPEC_STATS: "1", KSPEC_CACHE: "off" },
  });
  const line = /^kspec-launch (.*)$/m.exec(r.stderr);
  return {
    code: r.status,
    stdout: r.stdout,
    caches: line ? (JSON.parse(line[1]) as Record<string, string>) : {},
  };
}

describe("the launcher's code caches", () => {
  let copy: string;
  let policy: string;
  let check: string[];
  let userCheck: string[];

  beforeAll(() => {
    // A second installation of this build: dist/ and bin/ copied (their caches may be spoilt), the rest linked.
    copy = mkdtempSync(join(tmpdir(), "kspec-launch-"));
    for (const d of ["dist", "bin"]) cpSync(join(REPO, d), join(copy, d), { recursive: true });
    for (const d of ["package.json", "spec", "templates", "node_modules"])
      symlinkSync(join(REPO, d), join(copy, d));
    policy = writeUserPolicy(join(copy, "my-policy.ts"));
    const tree = treeDir("6.12");
    check = ["check", "--kernel", tree, "--policy", "linux-6.12"];
    userCheck = ["check", "--kernel", tree, "--policy", policy];
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it("the build trained both caches, and a run uses them", () => {
    const r = run(REPO, userCheck);
    expect(r.code).toBe(0);
    expect(r.caches).toEqual({ "kspec.cjs": "used", "tree-sitter": "used", "@babel/parser": "used" });
    expect(run(REPO, check).caches).toEqual({ "kspec.cjs": "used", "tree-sitter": "used" });
  });

  it("a cache made for another build or another file, of the same length, is not given to V8", () => {
    const want = run(REPO, userCheck).stdout;
    for (const name of ["kspec.cjs.v8cache", "tree-sitter.v8cache", "babel-parser.v8cache"]) {
      const file = join(copy, "dist", name);
      const b = readFileSync(file);
      // What names the source (the build id; a package's file itself) changed in its first byte: same length,
      // same V8 data.
      b[0] = b[0] === 0x30 ? 0x31 : 0x30;
      writeFileSync(file, b);
    }
    const r = run(copy, userCheck);
    expect(r.caches).toEqual({ "kspec.cjs": "none", "tree-sitter": "none", "@babel/parser": "none" });
    expect(r.stdout).toBe(want);
    expect(r.code).toBe(0);
  });

  it("a cache V8 rejects (other flags than the build's) only costs time", () => {
    const want = run(REPO, check).stdout;
    const r = run(REPO, check, ["--no-opt"]);
    expect(r.caches).toEqual({ "kspec.cjs": "rejected", "tree-sitter": "rejected" });
    expect(r.stdout).toBe(want);
  });
});
