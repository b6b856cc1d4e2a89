// Tests of the command stage for the model commands (list, eval, explain), through the built `kspec` binary.

import { describe, expect, it } from "vitest";
import { kspec, kspecJson } from "./helpers/run.js";

const CODE: Record<string, number> = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6 };

describe("kspec eval", () => {
  it("linux-6.1 --json gives the 6.1 table", () => {
    const { code, json } = kspecJson(["eval", "--policy", "linux-6.1", "--json"]);
    expect(code).toBe(0);
    expect(json.inputs).toEqual(["isMmio", "noncoherentDma", "cr0Cd", "quirkCdNwCleared", "guestMtrr"]);
    expect(json.rows).toHaveLength(80);
    for (const r of json.rows) {
      const i = r.inputs;
      const want = i.isMmio
        ? 0x00
        : !i.noncoherentDma
          ? 0x70
          : i.cr0Cd && i.quirkCdNwCleared
            ? 0x70
            : i.cr0Cd
              ? 0x40
              : CODE[i.guestMtrr] << 3;
      expect(r.mask).toBe(want);
      expect(Object.keys(r).sort()).toEqual(["inputs", "ipat", "mask", "rule", "type"]);
    }
  });

  it("prints a human table by default", () => {
    const r = kspec(["eval", "--policy", "linux-6.12"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("8 rows over 3 inputs");
    expect(r.stdout).toMatch(/^0\s+0\s+1\s+0x70\s+WB\|IPAT\s+ignore-guest-pat$/m);
  });

  it("a broken policy prints every error as file:line:col and exits 2", () => {
    const r = kspec(["eval", "--policy", "test/fixtures/spec/fail/several-errors.ts"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^test\/fixtures\/spec\/fail\/several-errors\.ts:12:15: unknown input 'slotflag'/,
      ),
      expect.stringMatching(
        /^test\/fixtures\/spec\/fail\/several-errors\.ts:18:15: memory type 3 is a reserved code/,
      ),
      expect.stringMatching(
        /^test\/fixtures\/spec\/fail\/several-errors\.ts:6:29: policy 'several' has no default/,
      ),
    ]);
  });

  it("bad arguments exit 2 with one line", () => {
    for (const args of [
      ["eval"],
      ["eval", "--policy", "linux-9.9"],
      ["eval", "--polcy", "linux-6.1"],
      ["frobnicate"],
      ["eval", "--policy", "nope.ts"],
    ]) {
      const r = kspec(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr).toMatch(/^kspec: /);
    }
  });
});

describe("kspec explain", () => {
  it("--vs shows exactly the cr0Cd && quirkCdNwCleared rows between 6.7 and 6.1", () => {
    const r = kspec(["explain", "--policy", "linux-6.7", "--vs", "linux-6.1"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(
      "linux-6.7 vs linux-6.1: 1 scenario differs (inputs: isMmio, noncoherentDma, cr0Cd, quirkCdNwCleared, guestMtrr)",
    );
    const body = lines.slice(3);
    expect(body).toHaveLength(2);
    expect(body[0]).toMatch(
      /^!isMmio, noncoherentDma, cr0Cd, quirkCdNwCleared\s+linux-6.7\s+cd-quirk \(spec\/policies\/linux-6.7.ts:\d+:\d+\)\s+WB \(0x30\)\s+UC\s+UC\s+WC\s+WT\s+WP\s+WB$/,
    );
    expect(body[1]).toMatch(
      /^\s+linux-6.1\s+cd-quirk \(spec\/policies\/linux-6.1.ts:\d+:\d+\)\s+WB\|IPAT \(0x70\)(\s+WB){6}$/,
    );
  });

  it("a flagged slot honors guest PAT under non-coherent-dma; unflagged keeps the base", () => {
    const { code, json } = kspecJson(["explain", "--policy", "linux-6.12+non-coherent-dma", "--json"]);
    expect(code).toBe(0);
    const flagged = json.scenarios.filter((s: any) => s.when.slotFlag === true);
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({
      when: { isMmio: false, slotFlag: true },
      mask: 0x30,
      rule: "non-coherent-dma",
      effective: { UC: "UC", "UC-": "UC", WC: "WC", WT: "WT", WP: "WP", WB: "WB" },
    });
    const base = kspecJson(["explain", "--policy", "linux-6.12", "--json"]).json;
    const unflagged = json.scenarios.filter((s: any) => s.when.slotFlag !== true);
    const strip = (s: any) => ({
      ...s,
      when: Object.fromEntries(Object.entries(s.when).filter(([k]) => k !== "slotFlag")),
    });
    expect(
      unflagged.map(strip).sort((a: any, b: any) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    ).toEqual(base.scenarios.sort((a: any, b: any) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)));
  });

  it("mem-wc gives WC whatever the guest PAT; --vs linux-6.12 shows only slotFlag rows", () => {
    const r = kspec(["explain", "--policy", "linux-6.12+mem-wc"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^!isMmio, slotFlag\s+mem-wc\s+WC\|IPAT \(0x48\)(\s+WC){6}$/m);
    const vs = kspecJson(["explain", "--policy", "linux-6.12+mem-wc", "--vs", "linux-6.12", "--json"]).json;
    expect(vs.differences.length).toBeGreaterThan(0);
    for (const d of vs.differences) for (const w of d.when) expect(w.slotFlag).toBe(true);
    const human = kspec(["explain", "--policy", "linux-6.12+non-coherent-dma", "--vs", "linux-6.12"]).stdout;
    const whenCol = human
      .trim()
      .split("\n")
      .slice(3)
      .map((l) => l.split(/\s{2,}/)[0])
      .filter(Boolean);
    expect(whenCol).toEqual(["!isMmio, !noncoherentDma, quirkIgnoreGuestPat, slotFlag"]);
  });

  it("lists hazards with the scenarios that show them", () => {
    const r = kspec(["explain", "--policy", "linux-6.12"]);
    expect(r.stdout).toContain("#2 wb-ram-aliased");
    expect(r.stdout).toContain("when !isMmio, noncoherentDma");
  });
});

describe("kspec list and help", () => {
  it("lists the built-ins", () => {
    const r = kspec(["list"]);
    expect(r.code).toBe(0);
    for (const n of ["linux-6.1", "linux-6.7", "linux-6.12", "non-coherent-dma", "mem-wc", "mem-dma"]) {
      expect(r.stdout).toMatch(new RegExp(`^(policy|proposal)\\s+${n}\\s`, "m"));
    }
  });

  it("every command has --help", () => {
    const top = kspec(["--help"]);
    expect(top.code).toBe(0);
    const names = [...top.stdout.matchAll(/^  (\S+)\s{2,}/gm)].map((m) => m[1]);
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const n of names) {
      const r = kspec([n, "--help"]);
      expect(r.code, n).toBe(0);
      expect(r.stdout, n).toMatch(new RegExp(`^usage: kspec ${n}`));
    }
  });
});
