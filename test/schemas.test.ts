// Tests of the JSON Schemas in docs/schemas/: every --json output, produced by the real command on the Debian
// trees and kspec's own series, conforms to its checked-in schema (which forbids properties it does not name).
// The schemas are generated from cli/json-types.ts; CI regenerates them and fails on a diff.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelTree } from "../kernel/tree.js";
import { partialCopy, readFixture, splice } from "./helpers/fixtures.js";
import { kspecJson, REPO } from "./helpers/run.js";
import { schemaErrors } from "./helpers/schemas.js";
import { treeDir } from "./helpers/trees.js";

const tmp = mkdtempSync(join(tmpdir(), "kspec-schemas-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function conforms(name: string, args: string[], codes: number[] = [0]) {
  const r = kspecJson(args);
  expect(codes, `${args.join(" ")}: ${r.stderr}`).toContain(r.code);
  expect(schemaErrors(name, r.json)).toBe("");
  return r.json;
}

describe("--json outputs conform to docs/schemas", () => {
  it("list, eval, explain, explain --vs", () => {
    conforms("list", ["list", "--json"]);
    conforms("eval", ["eval", "--policy", "linux-6.1", "--json"]);
    conforms("explain", ["explain", "--policy", "linux-6.12+non-coherent-dma", "--json"]);
    conforms("explain-vs", ["explain", "--policy", "linux-6.7", "--vs", "linux-6.1", "--json"], [0, 1]);
  });

  it("check (equal and differs), extract, diff", () => {
    const eq = conforms("check", ["check", "--kernel", treeDir("6.12"), "--policy", "linux-6.12", "--json"]);
    expect(eq.verdict).toBe("equal");
    const d = conforms(
      "check",
      ["check", "--kernel", treeDir("6.12"), "--policy", "linux-6.1", "--json"],
      [1],
    );
    expect(d.verdict).toBe("differs");
    conforms("extract", ["extract", "--kernel", treeDir("6.1"), "--json"]);
    const diff = conforms(
      "diff",
      ["diff", "--kernel", treeDir("6.1"), "--kernel", treeDir("6.12"), "--json"],
      [1],
    );
    expect(diff.verdict).toBe("changed");
  });

  it("an unverifiable check conforms too (a missing function)", () => {
    const u = conforms(
      "check",
      ["check", "--kernel", treeDir("6.12"), "--function", "no_such_fn", "--policy", "linux-6.12", "--json"],
      [2],
    );
    expect(u.verdict).toBe("unverifiable");
  });

  it("a mask with a bit outside the type and IPAT keeps it as stray, in extract and check", () => {
    const fx = readFixture(join(REPO, "test", "fixtures", "c", "fail", "ipat-bit-stray-6.12.c"));
    const s = splice(new KernelTree(treeDir("6.12")), fx.text);
    const dir = partialCopy(treeDir("6.12"), { file: s.file, content: s.content });
    try {
      const x = conforms("extract", ["extract", "--kernel", dir, "--json"]);
      const stray = x.rows.filter((r: { stray?: number }) => r.stray !== undefined);
      expect(stray.length).toBeGreaterThan(0);
      for (const r of stray) expect(r).toMatchObject({ mask: 0xb0, type: "WB", ipat: false, stray: 0x80 });
      const c = conforms("check", ["check", "--kernel", dir, "--policy", "linux-6.12", "--json"], [1]);
      expect(c.counterexamples[0].c).toMatchObject({ mask: 0xb0, stray: 0x80 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("verify-patch of kspec's own series", () => {
    const dir = join(REPO, "out", "linux-6.12", "non-coherent-dma");
    const files = readdirSync(dir)
      .sort()
      .map((f) => join(dir, f));
    const v = conforms("verify-patch", [
      "verify-patch",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "non-coherent-dma",
      "--json",
      ...files,
    ]);
    expect(v.verdict).toBe("equal");
  });

  it("sync, with an error pair among them", () => {
    const config = join(tmp, "kspec.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        pairs: [
          { kernel: treeDir("6.12"), policy: "linux-6.12" },
          { kernel: join(tmp, "missing"), policy: "linux-6.12" },
        ],
      }),
    );
    const s = conforms("sync", ["sync", "--config", config, "--json"], [2]);
    expect(s.results.map((r: { verdict: string }) => r.verdict)).toEqual(["equal", "error"]);
  });
});
