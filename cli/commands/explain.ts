// Command stage: `kspec explain` — what a guest gets under a policy: effective type per guest PAT type for every
// scenario, the hazards the table shows, and with --vs the scenarios where two policies differ.

import { InputError } from "../../spec/errors.js";
import { evaluate, explore, policyInputs, type Result } from "../../spec/evaluate.js";
import { compareFns } from "../../spec/compare.js";
import { cubeOf, cubeToJson, formatCube } from "../../spec/cubes.js";
import { findHazards } from "../../spec/hazards.js";
import type { Policy } from "../../spec/ir.js";
import { formatLoc } from "../../spec/ir.js";
import { describeMask, PAT_TYPES } from "../../spec/memtypes.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { str, type Command } from "../command.js";
import { json, table } from "../io.js";
import { effectiveCells, ruleName } from "../policy-view.js";

export const explain: Command = {
  name: "explain",
  summary: "effective memory type per scenario and guest PAT type, hazards, and differences (--vs)",
  usage: "kspec explain --policy P [--vs Q] [--json]",
  details: `Each scenario is a set of inputs that decides the EPT mask; the columns UC..WB are the effective memory type
of a guest access for each guest PAT type (SDM Vol 3A, "Effective Page-Level Memory Type").
Hazards are those of DOMAIN.md that a table can show, with the scenarios that show them.
--vs Q: only the scenarios where P and Q give different masks.
Exit: 0, 2 on a bad policy.`,
  options: { policy: { type: "string" }, vs: { type: "string" }, json: { type: "boolean" } },
  async run({ values }, io) {
    const expr = str(values, "policy");
    if (!expr) throw new InputError("explain needs --policy P");
    const p = await resolvePolicy(expr);
    const vsExpr = str(values, "vs");
    if (vsExpr !== undefined) return vs(p, await resolvePolicy(vsExpr), !!values.json, io);

    const inputs = policyInputs(p);
    const leaves = explore((env) => evaluate(p, env));
    const hazards = findHazards(
      leaves.map((l) => ({ env: l.env, mask: l.value.mask })),
      inputs,
    );
    if (values.json) {
      io.out(
        json({
          policy: p.name,
          inputs,
          scenarios: leaves.map((l) => ({
            when: cubeToJson(cubeOf(l.env)),
            mask: l.value.mask,
            rule: ruleName(l.value.rule),
            effective: Object.fromEntries(PAT_TYPES.map((t, i) => [t, effectiveCells(l.value.mask)[i]])),
          })),
          hazards: hazards.map((h) => ({
            id: h.id,
            domain: h.domain,
            title: h.title,
            when: h.rows.map(cubeToJson),
          })),
        }),
      );
      return 0;
    }
    io.out(`policy ${p.name}: ${p.source}\ninputs: ${inputs.join(", ") || "none"}\n\n`);
    io.out("effective memory type of a guest access, per guest PAT type:\n");
    io.out(
      table(
        ["scenario", "rule", "EPT", ...PAT_TYPES],
        leaves.map((l) => [
          formatCube(cubeOf(l.env)),
          ruleName(l.value.rule),
          describeMask(l.value.mask),
          ...effectiveCells(l.value.mask),
        ]),
      ),
    );
    io.out(`\nhazards (DOMAIN.md): ${hazards.length ? "" : "none shown by this table"}\n`);
    for (const h of hazards) {
      io.out(`  #${h.domain} ${h.id}: ${h.title}\n`);
      for (const c of h.rows) io.out(`      when ${formatCube(c)}\n`);
    }
    return 0;
  },
};

function vs(p: Policy, q: Policy, asJson: boolean, io: import("../io.js").Io): number {
  const side = (pol: Policy) => (env: import("../../spec/evaluate.js").Env) => {
    const r = evaluate(pol, env);
    return { mask: r.mask, origin: r };
  };
  const key = (r: Result) => ruleName(r.rule);
  const cmp = compareFns(side(p), side(q), key);
  if (asJson) {
    io.out(
      json({
        policy: p.name,
        vs: q.name,
        equal: cmp.equal,
        inputs: cmp.inputs,
        differences: cmp.groups.map((g) => ({
          when: g.when.map(cubeToJson),
          [p.name]: { mask: g.a.mask, rule: ruleName(g.a.origin.rule) },
          [q.name]: { mask: g.b.mask, rule: ruleName(g.b.origin.rule) },
        })),
      }),
    );
    return 0;
  }
  if (cmp.equal) {
    io.out(
      `${p.name} and ${q.name} give the same mask for every input (${cmp.inputs.join(", ") || "none"})\n`,
    );
    return 0;
  }
  const n = cmp.groups.reduce((s, g) => s + g.when.length, 0);
  io.out(
    `${p.name} vs ${q.name}: ${n} scenario${n === 1 ? " differs" : "s differ"} (inputs: ${cmp.inputs.join(", ")})\n\n`,
  );
  const rows: string[][] = [];
  for (const g of cmp.groups) {
    for (const c of g.when) {
      const at = (pol: Policy, r: Result) =>
        `${ruleName(r.rule)} (${formatLoc(r.rule ? r.rule.loc : pol.default.loc)})`;
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
  io.out(table(["when", "policy", "rule", "EPT", ...PAT_TYPES], rows));
  return 0;
}
