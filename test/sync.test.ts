// Tests of keeping model and C in sync: import round trips (Debian trees through the command, every C fixture
// in process), the semantic diff of the two Debian trees, and the sync check of a config of pairs.

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFunction } from "../checker/check.js";
import { extract, openFunction } from "../checker/extract.js";
import { importTree } from "../checker/import.js";
import { KernelTree } from "../kernel/tree.js";
import { defaultFlagMacros } from "../spec/flags.js";
import { parseSpecText } from "../spec/load.js";
import { ROOT } from "../spec/root.js";
import { toPolicy } from "../spec/validate.js";
import { decodeMask } from "../spec/memtypes.js";
import { policyFileText } from "../spec/write.js";
import { readFixture, splice } from "./helpers/fixtures.js";
import { kspec, kspecJson } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const tmp = () => mkdtempSync(join(tmpdir(), "kspec-sync-"));

describe("kspec import", () => {
  for (const v of ["6.1", "6.12"] as const) {
    it(`round trip on the Debian ${v} tree: import, then check gives equal`, () => {
      const out = join(tmp(), `debian-${v}.ts`);
      const r = kspec(["import", "--kernel", treeDir(v), "--name", `debian-${v}`, "--out", out]);
      expect(r.code, r.stderr).toBe(0);
      const text = readFileSync(out, "utf8");
      expect(text).toMatch(
        /^\/\/ Imported by kspec from arch\/x86\/kvm\/vmx\/vmx\.c vmx_get_mt_mask\(\) \(Linux \d+\.\d+\.\d+\)\./,
      );
      expect(text).toMatch(/\/\/ arch\/x86\/kvm\/vmx\/vmx\.c:\d+ \(Linux /);
      expect(text).toContain('name: "mmio"');
      const c = kspec(["check", "--kernel", treeDir(v), "--policy", out]);
      expect(c.code, c.stdout + c.stderr).toBe(0);
      // Same inputs, same bytes; and an existing file is kept without --force.
      const again = kspec(["import", "--kernel", treeDir(v), "--name", `debian-${v}`, "--out", out]);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/exists \(use --force to replace it\)/);
      expect(
        kspec(["import", "--kernel", treeDir(v), "--name", `debian-${v}`, "--out", out, "--force"]).code,
      ).toBe(0);
      expect(readFileSync(out, "utf8")).toBe(text);
    });
  }

  it("names the rules as the built-in policies do", () => {
    const out = join(tmp(), "p.ts");
    expect(kspec(["import", "--kernel", treeDir("6.1"), "--name", "p", "--out", out]).code).toBe(0);
    const names = [...readFileSync(out, "utf8").matchAll(/^ {6}name: "([^"]+)"/gm)].map((m) => m[1]);
    expect(names).toEqual(["mmio", "coherent", "cd", "cd-quirk"]);
  });

  const dir = join(import.meta.dirname, "fixtures", "c");
  for (const category of ["pass", "fail"]) {
    for (const name of readdirSync(join(dir, category)).sort()) {
      it(`round trip on fixture ${category}/${name}`, async () => {
        const fx = readFixture(join(dir, category, name));
        const s = splice(new KernelTree(treeDir(fx.tree)), fx.text);
        const macros = await defaultFlagMacros();
        // A policy has no words for a bit outside the memory type and IPAT: import refuses such C, by line.
        const x = extract(s.tree, { flagMacros: macros });
        if (x.kind === "table" && x.leaves.some((l) => decodeMask(l.mask).stray)) {
          expect(() => importTree(s.tree, macros, "vmx_get_mt_mask", "fixture")).toThrow(
            /vmx\.c:\d+: the C returns 0x[0-9a-f]+, with bits outside the EPT memory type and IPAT/,
          );
          return;
        }
        const p = importTree(s.tree, macros, "vmx_get_mt_mask", "fixture");
        const file = join(tmp(), "fixture.ts");
        const text = await policyFileText(p, {
          file,
          dsl: join(ROOT, "spec", "dsl.ts"),
          header: ["fixture"],
          provenance: () => undefined,
        });
        const back = toPolicy(await parseSpecText(text, file));
        const { info, interp } = openFunction(s.tree, "vmx_get_mt_mask", macros);
        expect(checkFunction(interp, info, back).verdict).toBe("equal");
      });
    }
  }
});

describe("kspec diff", () => {
  it("6.1 vs 6.12: guest MTRR and CR0.CD handling gone, the ignore-guest-PAT quirk new", () => {
    const r = kspecJson(["diff", "--kernel", treeDir("6.1"), "--kernel", treeDir("6.12"), "--json"]);
    expect(r.code).toBe(1);
    expect(r.json.onlyA).toEqual(["cr0Cd", "quirkCdNwCleared", "guestMtrr"]);
    expect(r.json.onlyB).toEqual(["quirkIgnoreGuestPat"]);
    const changes = r.json.changes.flatMap((c: any) => c.when.map((w: any) => ({ when: w, a: c.a, b: c.b })));
    const when = (o: object) => ({ isMmio: false, ...o });
    expect(changes).toEqual(
      expect.arrayContaining([
        { when: when({ noncoherentDma: false, quirkIgnoreGuestPat: false }), a: 0x70, b: 0x30 },
        { when: when({ noncoherentDma: true, cr0Cd: true, quirkCdNwCleared: true }), a: 0x70, b: 0x30 },
        { when: when({ noncoherentDma: true, cr0Cd: true, quirkCdNwCleared: false }), a: 0x40, b: 0x30 },
        ...["UC", "WC", "WT", "WP"].map((t) => ({
          when: when({ noncoherentDma: true, cr0Cd: false, guestMtrr: t }),
          a: { UC: 0, WC: 8, WT: 0x20, WP: 0x28 }[t],
          b: 0x30,
        })),
      ]),
    );
    expect(changes).toHaveLength(7);
    const h = kspec(["diff", "--kernel", treeDir("6.1"), "--kernel", treeDir("6.12")]).stdout;
    expect(h).toContain("inputs only A reads: cr0Cd, quirkCdNwCleared, guestMtrr");
    expect(h).toContain("when !isMmio, noncoherentDma, cr0Cd, quirkCdNwCleared: WB|IPAT (0x70) -> WB (0x30)");
  });

  it("a tree against itself is the same", () => {
    const r = kspec(["diff", "--kernel", treeDir("6.12"), "--kernel", treeDir("6.12")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("same meaning on all inputs");
  });
});

describe("kspec sync", () => {
  it("(6.1, linux-6.1), (6.12, linux-6.12), (6.12, linux-6.1): two equal, one differs, exit 1", () => {
    const d = tmp();
    const config = join(d, "kspec.sync.json");
    writeFileSync(
      config,
      JSON.stringify({
        pairs: [
          { kernel: treeDir("6.1"), policy: "linux-6.1" },
          { kernel: "${KSPEC_TEST_TREE}", policy: "linux-6.12", function: "vmx_get_mt_mask" },
          { kernel: treeDir("6.12"), policy: "linux-6.1" },
        ],
      }),
    );
    const env = { KSPEC_TEST_TREE: treeDir("6.12") };
    const r = kspec(["sync"], { cwd: d, env });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(["equal", "equal", "differs", "3"]);
    expect(lines[3]).toBe("3 pairs: 2 equal, 1 differs, 0 unverifiable");
    const j = kspecJson(["sync", "--config", config, "--json"], { env });
    expect(j.json.summary).toEqual({ pairs: 3, equal: 2, differs: 1, unverifiable: 0, error: 0 });
    const s = kspecJson(["sync", "--config", config, "--sarif"], { env });
    expect(s.json.runs[0].results.every((x: any) => x.ruleId === "kspec/differs")).toBe(true);
  });

  it("refuses a broken config with its location, exit 2", () => {
    const d = tmp();
    const bad = join(d, "bad.json");
    writeFileSync(bad, '{ "pairs": [\n  { "kernel": "x", }\n] }\n');
    const r = kspec(["sync", "--config", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json:2:\d+: not JSON/);
    writeFileSync(bad, JSON.stringify({ pairs: [{ kernel: "x" }] }));
    expect(kspec(["sync", "--config", bad]).stderr).toMatch(
      /pairs\[0\]: 'policy' must be a non-empty string/,
    );
    expect(kspec(["sync"], { cwd: d }).stderr).toMatch(/kspec\.sync\.json: no such config/);
  });

  it("an unset ${VAR} is its pair's error; the other pairs are still checked", () => {
    const config = join(tmp(), "kspec.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        pairs: [
          { kernel: "${KSPEC_TEST_UNSET}", policy: "linux-6.12" },
          { kernel: treeDir("6.12"), policy: "linux-6.12" },
        ],
      }),
    );
    const r = kspec(["sync", "--config", config], { env: { KSPEC_TEST_UNSET: undefined } });
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^error\s+pairs\[0\] linux-6\.12 .*environment variable KSPEC_TEST_UNSET is not set$/,
    );
    expect(lines[1]).toMatch(/^equal\s+linux-6\.12 /);
  });
});
