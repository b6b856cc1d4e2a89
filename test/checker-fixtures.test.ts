// Tests of the checker on real Debian kernel trees: the trees' own functions, and fixtures that rewrite the
// function in each historical shape (pass/: equal), change its meaning (fail/: differs, with the differing
// conditions), or use what kspec cannot model (unverifiable/: named, with the line). One test per fixture.

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkFunction, type Verdict } from "../checker/check.js";
import { openFunction } from "../checker/extract.js";
import { KernelTree } from "../kernel/tree.js";
import { parseC, type SyntaxNode } from "../kernel/parse.js";
import { formatCube } from "../spec/cubes.js";
import { defaultFlagMacros } from "../spec/flags.js";
import { resolvePolicy } from "../spec/resolve.js";
import { partialCopy, readFixture, splice } from "./helpers/fixtures.js";
import { kspec, kspecJson } from "./helpers/run.js";
import { treeDir, type Version } from "./helpers/trees.js";

const DIR = join(import.meta.dirname, "fixtures", "c");
let macros: string[];
beforeAll(async () => {
  macros = await defaultFlagMacros();
});

async function verdict(tree: KernelTree, policy: string): Promise<Verdict> {
  const { info, interp } = openFunction(tree, "vmx_get_mt_mask", macros);
  return checkFunction(interp, info, await resolvePolicy(policy));
}

describe("the Debian trees' own vmx_get_mt_mask()", () => {
  const cases: [Version, string, Verdict["verdict"]][] = [
    ["6.1", "linux-6.1", "equal"],
    ["6.1", "linux-6.7", "differs"],
    ["6.1", "linux-6.12", "differs"],
    ["6.12", "linux-6.12", "equal"],
    ["6.12", "linux-6.1", "differs"],
  ];
  for (const [v, policy, want] of cases) {
    it(`kspec check ${v} tree --policy ${policy}: ${want}`, () => {
      const r = kspecJson(["check", "--kernel", treeDir(v), "--policy", policy, "--json"]);
      expect(r.json.verdict).toBe(want);
      expect(r.code).toBe(want === "equal" ? 0 : 1);
      expect(r.json.function).toEqual({
        name: "vmx_get_mt_mask",
        file: "arch/x86/kvm/vmx/vmx.c",
        line: v === "6.1" ? 7538 : 7676,
      });
      if (want === "differs") expect(r.json.counterexamples.length).toBeGreaterThan(0);
    });
  }

  it("6.1 vs linux-6.7: exactly the cr0Cd && quirk rows, with the rule and the C return", () => {
    const r = kspecJson(["check", "--kernel", treeDir("6.1"), "--policy", "linux-6.7", "--json"]);
    expect(r.json.counterexamples).toHaveLength(5); // guestMtrr is free on that path
    for (const c of r.json.counterexamples) {
      expect(c.inputs).toMatchObject({
        isMmio: false,
        noncoherentDma: true,
        cr0Cd: true,
        quirkCdNwCleared: true,
      });
      expect(c.c).toMatchObject({ mask: 0x70, file: "arch/x86/kvm/vmx/vmx.c", line: 7572 });
      expect(c.spec).toMatchObject({ mask: 0x30, rule: "cd-quirk", file: "spec/policies/linux-6.7.ts" });
    }
    const human = kspec(["check", "--kernel", treeDir("6.1"), "--policy", "linux-6.7"]).stdout;
    expect(human).toContain("when !isMmio, noncoherentDma, cr0Cd, quirkCdNwCleared:");
    expect(human).toContain("C gives WB|IPAT (0x70), returning at arch/x86/kvm/vmx/vmx.c:7572");
    expect(human).toMatch(/policy rule cd-quirk at spec\/policies\/linux-6\.7\.ts:\d+:\d+ gives WB \(0x30\)/);
  });

  it("6.12 vs linux-6.1 shows the removal of MTRR and CR0.CD handling", () => {
    const r = kspecJson(["check", "--kernel", treeDir("6.12"), "--policy", "linux-6.1", "--json"]);
    const groups = r.json.groups.map((g: any) => ({ c: g.c.mask, spec: g.spec.rule }));
    expect(groups).toContainEqual({ c: 0x30, spec: "cd" });
    expect(groups).toContainEqual({ c: 0x30, spec: "cd-quirk" });
    expect(groups).toContainEqual({ c: 0x30, spec: "default" });
  });

  it("extract --json lists every row of the 6.1 table", () => {
    const r = kspecJson(["extract", "--kernel", treeDir("6.1"), "--json"]);
    expect(r.code).toBe(0);
    expect(r.json.inputs).toEqual(["isMmio", "noncoherentDma", "cr0Cd", "quirkCdNwCleared", "guestMtrr"]);
    expect(r.json.rows).toHaveLength(80);
    expect(r.json.paths).toHaveLength(9);
  });

  it("--function naming a predicate (it returns bool, not a mask) is refused, exit 2", () => {
    const r = kspec(["extract", "--kernel", treeDir("6.12"), "--function", "vmx_ignore_guest_pat"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^kspec: vmx_ignore_guest_pat\(\) at arch\/x86\/kvm\/vmx\/vmx\.c:\d+ returns bool, not an EPT mask/,
    );
  });

  it("a tree without the function is unverifiable: not-located, exit 2", () => {
    const args = [
      "check",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "linux-6.12",
      "--function",
      "no_such_function",
    ];
    const r = kspec(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /^unverifiable: no_such_function\(\) cannot be checked against linux-6\.12:\n  no_such_function\(\) is not defined under arch\/x86\/kvm\/ .* \[not-located: no_such_function\]$/m,
    );
    const j = kspecJson([...args, "--json"]);
    expect(j.json.problems).toEqual([
      expect.objectContaining({ kind: "not-located", name: "no_such_function" }),
    ]);
  });
});

for (const category of ["pass", "fail", "unverifiable"] as const) {
  describe(`C fixtures: ${category}`, () => {
    for (const name of readdirSync(join(DIR, category)).sort()) {
      it(name, async () => {
        const fx = readFixture(join(DIR, category, name));
        expect(fx.expect.length).toBeGreaterThan(0);
        const s = splice(new KernelTree(treeDir(fx.tree)), fx.text);
        if (fx.errorWrapped) {
          // The shape this fixture stands for: the whole file's parse hides the function in an ERROR node.
          const at = s.content.search(/^u8 vmx_get_mt_mask\(/m) + 3;
          let n: SyntaxNode | null = parseC(s.content).rootNode.descendantForIndex(at, at + 5);
          while (n && n.type !== "ERROR") n = n.parent;
          expect(n?.type, "the function inside an ERROR node of the whole-file parse").toBe("ERROR");
        }
        for (const e of fx.expect) {
          const v = await verdict(s.tree, e.policy);
          expect(
            v.verdict,
            `${name} vs ${e.policy}: ${JSON.stringify(v.verdict === "unverifiable" ? v.problems : "")}`,
          ).toBe(e.verdict);
          if (e.when && v.verdict === "differs") {
            expect(v.groups.flatMap((g) => g.when.map(formatCube)).sort()).toEqual([...e.when].sort());
          }
          if (v.verdict === "unverifiable") {
            const p = v.problems[0];
            if (e.kind) expect(p.kind).toBe(e.kind);
            if (e.name) expect(p.name).toBe(e.name);
            expect(p.file).toBe(s.file);
            if (fx.markerLine !== undefined) expect(p.line).toBe(s.startLine + fx.markerLine);
          }
        }
      });
    }
  });
}

describe("unverifiable end to end: exit 2 with the location", () => {
  for (const name of readdirSync(join(DIR, "unverifiable")).sort()) {
    it(name, () => {
      const fx = readFixture(join(DIR, "unverifiable", name));
      const s = splice(new KernelTree(treeDir(fx.tree)), fx.text);
      const dir = partialCopy(treeDir(fx.tree), { file: s.file, content: s.content });
      try {
        const r = kspec(["check", "--kernel", dir, "--policy", fx.expect[0].policy]);
        expect(r.code).toBe(2);
        expect(r.stdout).toMatch(/^unverifiable: vmx_get_mt_mask\(\) at arch\/x86\/kvm\/vmx\/vmx\.c:\d+/);
        if (fx.markerLine !== undefined)
          expect(r.stdout).toContain(`arch/x86/kvm/vmx/vmx.c:${s.startLine + fx.markerLine}: `);
        const j = kspecJson(["check", "--kernel", dir, "--policy", fx.expect[0].policy, "--json"]);
        expect(j.code).toBe(2);
        expect(j.json.verdict).toBe("unverifiable");
        expect(j.json.problems[0]).toMatchObject({ kind: fx.expect[0].kind, file: "arch/x86/kvm/vmx/vmx.c" });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
