// Tests of the model stage: memory-type encodings, the SDM table cell by cell, every built-in policy's table
// against expectations derived by hand from the kernel C, composition, and hazards.

import { describe, expect, it } from "vitest";
import {
  EFFECTIVE_TYPE,
  EPT_TYPES,
  PAT_TYPES,
  decodeMask,
  describeMask,
  effectiveType,
  encodeMask,
  type EptType,
} from "../spec/memtypes.js";
import { evaluate, explore, leafLookup, Need, policyInputs, truthTable, type Env } from "../spec/evaluate.js";
import { resolvePolicy } from "../spec/resolve.js";
import { compareFns } from "../spec/compare.js";
import { formatCube } from "../spec/cubes.js";
import { findHazards } from "../spec/hazards.js";
import { compose } from "../spec/validate.js";
import type { Policy, Proposal, Rule } from "../spec/ir.js";
import type { InputValue } from "../spec/vocabulary.js";

// The SDM's MTRR x PAT table (Vol 3A, "Effective Page-Level Memory Type"), transcribed here independently of
// spec/memtypes.ts: rows are the EPT (MTRR) type, columns guest PAT UC, UC-, WC, WT, WP, WB.
const SDM = `
UC | UC UC WC UC UC UC
WC | UC WC WC UC UC WC
WT | UC UC WC WT WP WT
WP | UC WC WC WT WP WP
WB | UC UC WC WT WP WB
`;

describe("memory types", () => {
  it("encodes and decodes EPT masks", () => {
    expect(encodeMask(6, true)).toBe(0x70);
    expect(encodeMask(6, false)).toBe(0x30);
    expect(encodeMask(0, false)).toBe(0x00);
    expect(encodeMask(1, false)).toBe(0x08);
    expect(encodeMask(1, true)).toBe(0x48);
    expect(decodeMask(0x70)).toEqual({ code: 6, type: "WB", ipat: true, stray: 0 });
    expect(decodeMask(0x10)).toMatchObject({ code: 2, type: "reserved(2)" });
    expect(decodeMask(0x38)).toMatchObject({ code: 7, type: "UC-" });
    expect(describeMask(0x40)).toBe("UC|IPAT (0x40)");
  });

  const cells = SDM.trim()
    .split("\n")
    .flatMap((line) => {
      const [ept, rest] = line.split("|").map((s) => s.trim());
      return rest.split(/\s+/).map((eff, i) => [ept as EptType, PAT_TYPES[i], eff] as const);
    });
  it("has 30 cells", () => expect(cells).toHaveLength(30));
  for (const [ept, pat, eff] of cells) {
    it(`EPT ${ept} x PAT ${pat} = ${eff}`, () => {
      expect(EFFECTIVE_TYPE[ept][pat]).toBe(eff);
      expect(effectiveType(encodeMask({ UC: 0, WC: 1, WT: 4, WP: 5, WB: 6 }[ept], false), pat)).toBe(eff);
    });
  }

  it("follows the table's consequences", () => {
    for (const ept of EPT_TYPES) {
      expect(EFFECTIVE_TYPE[ept].WC).toBe("WC");
      for (const pat of PAT_TYPES) expect(effectiveType(encodeMask(6, true) | 0, pat)).toBe("WB");
    }
    for (const pat of PAT_TYPES) {
      expect(EFFECTIVE_TYPE.WB[pat]).toBe(pat === "UC-" ? "UC" : pat);
      expect(EFFECTIVE_TYPE.UC[pat]).toBe(pat === "WC" ? "WC" : "UC");
    }
    expect(effectiveType(0x10, "WB")).toBe("EPT-misconfig");
    expect(effectiveType(0x38, "WB")).toBe("EPT-misconfig");
  });
});

type Row = Record<string, InputValue>;
const CODE: Record<string, number> = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6, "UC-": 7 };

// Hand-derived from the C of each tree (and the design discussion in docs/hazards.md for the proposals), not from the policy files.
const EXPECTED: Record<string, (r: Row) => number> = {
  "linux-6.1": (r) =>
    r.isMmio
      ? 0x00
      : !r.noncoherentDma
        ? 0x70
        : r.cr0Cd
          ? r.quirkCdNwCleared
            ? 0x70
            : 0x40
          : CODE[r.guestMtrr as string] << 3,
  "linux-6.7": (r) =>
    r.isMmio
      ? 0x00
      : !r.noncoherentDma
        ? 0x70
        : r.cr0Cd
          ? r.quirkCdNwCleared
            ? 0x30
            : 0x40
          : CODE[r.guestMtrr as string] << 3,
  "linux-6.12": (r) => (r.isMmio ? 0x00 : !r.noncoherentDma && r.quirkIgnoreGuestPat ? 0x70 : 0x30),
  "linux-6.12+non-coherent-dma": (r) =>
    r.isMmio ? 0x00 : r.slotFlag ? 0x30 : !r.noncoherentDma && r.quirkIgnoreGuestPat ? 0x70 : 0x30,
  "linux-6.12+mem-wc": (r) =>
    r.isMmio ? 0x00 : r.slotFlag ? 0x48 : !r.noncoherentDma && r.quirkIgnoreGuestPat ? 0x70 : 0x30,
  "linux-6.12+mem-dma": (r) =>
    r.isMmio
      ? 0x00
      : r.slotFlag
        ? ((r.hostPat === "UC-" ? 0 : CODE[r.hostPat as string]) << 3) | 0x40
        : !r.noncoherentDma && r.quirkIgnoreGuestPat
          ? 0x70
          : 0x30,
  "linux-6.1+non-coherent-dma": (r) => (r.isMmio ? 0x00 : r.slotFlag ? 0x30 : EXPECTED["linux-6.1"](r)),
  "linux-6.1+mem-wc": (r) => (r.isMmio ? 0x00 : r.slotFlag ? 0x48 : EXPECTED["linux-6.1"](r)),
};

const INPUTS: Record<string, string[]> = {
  "linux-6.1": ["isMmio", "noncoherentDma", "cr0Cd", "quirkCdNwCleared", "guestMtrr"],
  "linux-6.12": ["isMmio", "noncoherentDma", "quirkIgnoreGuestPat"],
};

describe("built-in policies against hand-derived tables", () => {
  for (const [expr, want] of Object.entries(EXPECTED)) {
    it(expr, async () => {
      const p = await resolvePolicy(expr);
      const base = expr.split("+")[0];
      const extra = expr.includes("+") ? ["slotFlag", ...(expr.endsWith("mem-dma") ? ["hostPat"] : [])] : [];
      const inputs = policyInputs(p);
      expect(inputs.sort()).toEqual([...(INPUTS[base] ?? INPUTS["linux-6.1"]), ...extra].sort());
      const rows = truthTable(p);
      expect(rows.length).toBe(
        inputs.reduce((n, i) => n * (i === "guestMtrr" ? 5 : i === "hostPat" ? 6 : 2), 1),
      );
      for (const r of rows) {
        expect({ row: Object.fromEntries(r.inputs), mask: r.result.mask }).toEqual({
          row: Object.fromEntries(r.inputs),
          mask: want(Object.fromEntries(r.inputs)),
        });
      }
    });
  }

  it("linux-6.1 has 80 rows and names its rules", async () => {
    const rows = truthTable(await resolvePolicy("linux-6.1"));
    expect(rows).toHaveLength(80);
    const rule = (m: Row) =>
      rows.find((r) => Object.entries(m).every(([k, v]) => r.inputs.get(k) === v))!.result.rule?.name;
    expect(rule({ isMmio: true })).toBe("mmio");
    expect(rule({ isMmio: false, noncoherentDma: false })).toBe("coherent");
    expect(rule({ isMmio: false, noncoherentDma: true, cr0Cd: true, quirkCdNwCleared: true })).toBe(
      "cd-quirk",
    );
    expect(rule({ isMmio: false, noncoherentDma: true, cr0Cd: false })).toBeUndefined();
  });

  it("linux-6.7 differs from linux-6.1 exactly where cr0Cd and quirkCdNwCleared (0x70 -> 0x30)", async () => {
    const [a, b] = await Promise.all([resolvePolicy("linux-6.7"), resolvePolicy("linux-6.1")]);
    const side = (p: Policy) => (env: Parameters<typeof evaluate>[1]) => ({
      mask: evaluate(p, env).mask,
      origin: 0,
    });
    const cmp = compareFns(side(a), side(b), String);
    expect(cmp.groups).toHaveLength(1);
    expect(cmp.groups[0].a.mask).toBe(0x30);
    expect(cmp.groups[0].b.mask).toBe(0x70);
    expect(cmp.groups[0].when.map(formatCube)).toEqual(["!isMmio, noncoherentDma, cr0Cd, quirkCdNwCleared"]);
  });

  it("a proposal alone is not a policy", async () => {
    await expect(resolvePolicy("non-coherent-dma")).rejects.toThrow(/is a proposal, not a policy/);
  });
});

describe("composition", () => {
  const rule = (name: string, when: Rule["when"], code: number, ipat: boolean): Rule => ({
    name,
    when,
    then: { type: { kind: "const", code }, ipat },
    overrides: "*",
    loc: { file: "t.ts", line: 1, col: 1 },
    origin: "t",
  });
  const prop = (anchor: "after" | "before", ref: string): Proposal => ({
    name: "t",
    source: "test",
    inserts: [
      {
        anchor,
        ref,
        refLoc: { file: "t.ts", line: 2, col: 3 },
        rules: [rule("flag", [{ input: "slotFlag", values: [true] }], 1, true)],
      },
    ],
  });

  it("inserts after a named rule", async () => {
    const p = compose(await resolvePolicy("linux-6.12"), prop("after", "mmio"));
    expect(p.rules.map((r) => r.name)).toEqual(["mmio", "flag", "ignore-guest-pat"]);
    expect(p.name).toBe("linux-6.12+t");
    expect(evaluate(p, new Map<string, InputValue>([["isMmio", true]])).mask).toBe(0);
    expect(
      evaluate(
        p,
        new Map<string, InputValue>([
          ["isMmio", false],
          ["slotFlag", true],
        ]),
      ).mask,
    ).toBe(0x48);
  });

  it("inserts before a named rule", async () => {
    const p = compose(await resolvePolicy("linux-6.12"), prop("before", "mmio"));
    expect(p.rules.map((r) => r.name)).toEqual(["flag", "mmio", "ignore-guest-pat"]);
    // Before mmio, the flag now wins even for host MMIO: the hazard check shows it.
    const leaves = explore((env) => evaluate(p, env)).map((l) => ({ env: l.env, mask: l.value.mask }));
    const h = findHazards(leaves, policyInputs(p));
    expect(h.map((x) => x.id)).toContain("mmio-not-uc");
    expect(h.find((x) => x.id === "mmio-not-uc")!.rows.map(formatCube)).toEqual(["isMmio, slotFlag"]);
  });

  it("refuses an anchor the base does not have, at the anchor's location", async () => {
    expect(() =>
      compose(
        {
          name: "b",
          source: "",
          rules: [],
          default: {
            type: { kind: "const", code: 6 },
            ipat: true,
            loc: { file: "b", line: 1, col: 1 },
            origin: "b",
          },
        },
        prop("after", "mmio"),
      ),
    ).toThrow(/t\.ts:2:3: proposal 't' inserts after rule 'mmio', which 'b' does not have/);
  });
});

describe("hazards", () => {
  const hazards = async (expr: string) => {
    const p = await resolvePolicy(expr);
    const leaves = explore((env) => evaluate(p, env)).map((l) => ({ env: l.env, mask: l.value.mask }));
    return Object.fromEntries(
      findHazards(leaves, policyInputs(p)).map((h) => [h.id, h.rows.map(formatCube)]),
    );
  };

  it("linux-6.12: PAT-honoring RAM without self-snoop, and nothing else", async () => {
    expect(await hazards("linux-6.12")).toEqual({
      "wb-ram-aliased": ["!isMmio, !noncoherentDma, !quirkIgnoreGuestPat", "!isMmio, noncoherentDma"],
    });
  });

  it("linux-6.12+mem-wc does not force flagged memory to WB|IPAT; a proposal that does is named", async () => {
    expect((await hazards("linux-6.12+mem-wc"))["noncoherent-forced-wb"]).toBeUndefined();
    const p = await resolvePolicy("linux-6.12");
    const leaves = explore((env) => evaluate(p, env)).map((l) => ({ env: l.env, mask: l.value.mask }));
    // The unpatched policy, read as if it had a flagged slot: every flagged, quirk-on, coherent row is WB|IPAT.
    const h = findHazards(leaves, [...policyInputs(p), "slotFlag"]).find(
      (x) => x.id === "noncoherent-forced-wb",
    );
    expect(h!.rows.map(formatCube)).toEqual(["!isMmio, !noncoherentDma, quirkIgnoreGuestPat, slotFlag"]);
  });

  it("names reserved codes in a table", () => {
    const h = findHazards([{ env: new Map([["isMmio", false]]), mask: 0x38 }], ["isMmio"]);
    expect(h.map((x) => x.id)).toEqual(["wb-ram-aliased", "reserved-code"]);
  });

  it("mem-dma keeps UC- out of the EPT entry", async () => {
    const p = await resolvePolicy("linux-6.12+mem-dma");
    const masks = truthTable(p).filter((r) => r.inputs.get("slotFlag") && !r.inputs.get("isMmio"));
    expect(new Set(masks.map((r) => r.result.type))).toEqual(new Set(["UC", "WC", "WT", "WP", "WB"]));
    expect(masks.find((r) => r.inputs.get("hostPat") === "UC-")!.result.mask).toBe(0x40);
  });
});

describe("leafLookup", () => {
  // The questions a lookup asks (Need, in order: each explored env lists them) and the leaf it answers, for every
  // assignment: the decision-tree walk must ask and answer exactly as a scan of the leaves in order does.
  const trace = (lookup: (env: Env) => unknown) =>
    explore((env) => lookup(env)).map((l) => [[...l.env], l.value]);

  it("answers as a scan of the leaves for every built-in policy and proposal", async () => {
    for (const expr of ["linux-6.1", "linux-6.7", "linux-6.12", "linux-6.12+mem-dma", "linux-6.1+mem-wc"]) {
      const p = await resolvePolicy(expr);
      const leaves = explore((env) => evaluate(p, env).mask);
      const scan = (env: Env) => {
        for (const l of leaves) {
          let ok = true;
          for (const [k, v] of l.env) {
            const got = env.get(k);
            if (got === undefined) throw new Need(k);
            if (got !== v) {
              ok = false;
              break;
            }
          }
          if (ok) return l;
        }
        throw new Error("not covered");
      };
      expect(trace(leafLookup(leaves)), expr).toEqual(trace(scan));
    }
  });

  it("leaves not in explore's shape (inputs in different orders) are still looked up right", () => {
    const leaves = [
      { env: new Map<string, InputValue>([["isMmio", true]]), v: "a" },
      {
        env: new Map<string, InputValue>([
          ["cr0Cd", true],
          ["isMmio", false],
        ]),
        v: "b",
      },
      {
        env: new Map<string, InputValue>([
          ["isMmio", false],
          ["cr0Cd", false],
        ]),
        v: "c",
      },
    ];
    const f = leafLookup(leaves);
    expect(
      f(
        new Map<string, InputValue>([
          ["isMmio", false],
          ["cr0Cd", true],
        ]),
      ).v,
    ).toBe("b");
    expect(
      f(
        new Map<string, InputValue>([
          ["isMmio", false],
          ["cr0Cd", false],
        ]),
      ).v,
    ).toBe("c");
    expect(
      f(
        new Map<string, InputValue>([
          ["isMmio", true],
          ["cr0Cd", false],
        ]),
      ).v,
    ).toBe("a");
  });
});
