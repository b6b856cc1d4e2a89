// Report stage: what a guest gets under a policy, as text — effective memory type per scenario and guest PAT
// type, the hazards the table shows, the scenarios where two policies differ. Used by `explain` and by the
// cover letters of generated series.

import { compareFns, type Comparison } from "./compare.js";
import { cubeOf, formatCube } from "./cubes.js";
import { evaluate, explore, policyInputs, type Env, type Result } from "./evaluate.js";
import { effectiveRow, findHazards, type HazardFinding, HAZARDS_DOC } from "./hazards.js";
import type { Policy } from "./ir.js";
import { formatLoc, ruleLabel } from "./ir.js";
import { describeMask, PAT_TYPES } from "./memtypes.js";

/** A plain-text table: columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** The rule that decided a result. */
export function ruleName(r: { rule: { name: string } | null }): string {
  return ruleLabel(r.rule);
}

export function effectiveCells(mask: number): string[] {
  return effectiveRow(mask).map((e) => e.type);
}

export interface Scenarios {
  inputs: string[];
  leaves: { env: Env; value: Result }[];
  hazards: HazardFinding[];
}

export function scenarios(p: Policy): Scenarios {
  const inputs = policyInputs(p);
  const leaves = explore((env) => evaluate(p, env));
  const hazards = findHazards(
    leaves.map((l) => ({ env: l.env, mask: l.value.mask })),
    inputs,
  );
  return { inputs, leaves, hazards };
}

export function scenarioTable(s: Scenarios): string {
  return table(
    ["scenario", "rule", "EPT", ...PAT_TYPES],
    s.leaves.map((l) => [
      formatCube(cubeOf(l.env)),
      ruleName(l.value),
      describeMask(l.value.mask),
      ...effectiveCells(l.value.mask),
    ]),
  );
}

export function hazardText(hazards: readonly HazardFinding[]): string {
  const out = [`hazards (${HAZARDS_DOC}): ${hazards.length ? "" : "none shown by this table"}`.trimEnd()];
  for (const h of hazards) {
    out.push(`  #${h.domain} ${h.id}: ${h.title}`);
    for (const c of h.rows) out.push(`      when ${formatCube(c)}`);
  }
  return out.join("\n") + "\n";
}

export function comparePolicies(p: Policy, q: Policy): Comparison<Result, Result> {
  const side = (pol: Policy) => (env: Env) => {
    const r = evaluate(pol, env);
    return { mask: r.mask, origin: r };
  };
  return compareFns(side(p), side(q), (r) => ruleName(r));
}

export function differenceTable(
  p: Policy,
  q: Policy,
  cmp: Comparison<Result, Result>,
  withLocations = true,
): string {
  const rows: string[][] = [];
  const at = (pol: Policy, r: Result) =>
    withLocations ? `${ruleName(r)} (${formatLoc(r.rule ? r.rule.loc : pol.default.loc)})` : ruleName(r);
  for (const g of cmp.groups) {
    for (const c of g.when) {
      rows.push([
        formatCube(c),
        p.name,
        at(p, g.a.origin),
        describeMask(g.a.mask),
        ...effectiveCells(g.a.mask),
      ]);
      rows.push(["", q.name, at(q, g.b.origin), describeMask(g.b.mask), ...effectiveCells(g.b.mask)]);
    }
  }
  return table(["when", "policy", "rule", "EPT", ...PAT_TYPES], rows);
}
