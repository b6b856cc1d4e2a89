// The meta-test over problem kinds (as typescript-eslint's rule tester checks its rules): every kind of each
// catalogue — spec problems, kernel/checker problems, plumbing findings — is declared by at least one fixture,
// and every kind a fixture declares is in its catalogue. The fixture tests prove that each declaration holds.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FINDING_KINDS } from "../checker/plumbing.js";
import { PROBLEM_KINDS } from "../kernel/problems.js";
import { SPEC_PROBLEM_KINDS } from "../spec/errors.js";

const FIX = join(import.meta.dirname, "fixtures");

function files(dir: string, ext: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(ext)) out.push(join(d, e.name));
    }
  };
  walk(dir);
  return out.sort();
}

function specKinds(): Set<string> {
  const kinds = new Set<string>();
  for (const f of files(join(FIX, "spec", "fail"), ".ts"))
    for (const m of readFileSync(f, "utf8").matchAll(/^\/\/ expect-error: (\S+) /gm)) kinds.add(m[1]);
  for (const c of JSON.parse(readFileSync(join(FIX, "spec", "generated.json"), "utf8")).cases)
    kinds.add(c.kind);
  return kinds;
}

function kernelKinds(): Set<string> {
  const kinds = new Set<string>();
  for (const f of files(join(FIX, "c"), ".c"))
    for (const m of readFileSync(f, "utf8").matchAll(/^\/\/ expect .*\bkind=(\S+)/gm)) kinds.add(m[1]);
  for (const f of files(join(FIX, "trees"), ".json"))
    kinds.add(JSON.parse(readFileSync(f, "utf8")).expect.kind);
  return kinds;
}

function plumbingKinds(): Set<string> {
  const kinds = new Set<string>();
  for (const f of files(join(FIX, "series"), ".json")) {
    const e = JSON.parse(readFileSync(f, "utf8")).expect;
    if (e.problem) kinds.add(e.problem.id);
    for (const [id] of e.findings ?? []) kinds.add(id);
    for (const [, id] of e.warnings ?? []) kinds.add(id);
  }
  return kinds;
}

describe("every problem kind has a fixture that produces it", () => {
  for (const [name, catalogue, declared] of [
    ["spec problems (spec/errors.ts)", SPEC_PROBLEM_KINDS, specKinds],
    ["kernel problems (kernel/problems.ts)", PROBLEM_KINDS, kernelKinds],
    ["plumbing findings (checker/plumbing.ts)", FINDING_KINDS, plumbingKinds],
  ] as const) {
    it(name, () => {
      const kinds = declared();
      const all = Object.keys(catalogue);
      expect(
        all.filter((k) => !kinds.has(k)),
        "kinds without a fixture",
      ).toEqual([]);
      expect(
        [...kinds].filter((k) => !all.includes(k)),
        "fixtures declaring unknown kinds",
      ).toEqual([]);
    });
  }
});
