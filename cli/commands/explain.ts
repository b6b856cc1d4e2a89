// Command stage: `kspec explain` — what a guest gets under a policy: effective type per guest PAT type for every
// scenario, the hazards the table shows, and with --vs the scenarios where two policies differ.

import { InputError } from "../../spec/errors.js";
import { cubeOf, cubeToJson } from "../../spec/cubes.js";
import {
  comparePolicies,
  differenceTable,
  effectiveCells,
  hazardText,
  ruleName,
  scenarios,
  scenarioTable,
} from "../../spec/explain.js";
import type { Policy } from "../../spec/ir.js";
import { PAT_TYPES } from "../../spec/memtypes.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { str, type Command } from "../command.js";
import { json, type Io } from "../io.js";
import type { ExplainJson, ExplainVsJson } from "../json-types.js";

export const explain: Command = {
  name: "explain",
  summary: "effective memory type per scenario and guest PAT type, hazards, and differences (--vs)",
  usage: "kspec explain --policy P [--vs Q] [--json]",
  details: `Each scenario is a set of inputs that decides the EPT mask; the columns UC..WB are the effective memory type
of a guest access for each guest PAT type (SDM Vol 3A, "Effective Page-Level Memory Type").
Hazards are those of docs/hazards.md that a table can show, with the scenarios that show them.
--vs Q: only the scenarios where P and Q give different masks.
Exit: 0, 2 on a bad policy.`,
  options: { policy: { type: "string" }, vs: { type: "string" }, json: { type: "boolean" } },
  optionHelp: {
    vs: "a second policy: the scenarios where the two differ",
  },
  async run({ values }, io) {
    const expr = str(values, "policy");
    if (!expr) throw new InputError("explain needs --policy P");
    const p = await resolvePolicy(expr);
    const vsExpr = str(values, "vs");
    if (vsExpr !== undefined) return vs(p, await resolvePolicy(vsExpr), !!values.json, io);

    const s = scenarios(p);
    if (values.json) {
      io.out(
        json({
          policy: p.name,
          inputs: s.inputs,
          scenarios: s.leaves.map((l) => ({
            when: cubeToJson(cubeOf(l.env)),
            mask: l.value.mask,
            rule: ruleName(l.value),
            effective: Object.fromEntries(PAT_TYPES.map((t, i) => [t, effectiveCells(l.value.mask)[i]])),
          })),
          hazards: s.hazards.map((h) => ({
            id: h.id,
            domain: h.domain,
            title: h.title,
            when: h.rows.map(cubeToJson),
          })),
        } satisfies ExplainJson),
      );
      return 0;
    }
    io.out(`policy ${p.name}: ${p.source}\ninputs: ${s.inputs.join(", ") || "none"}\n\n`);
    io.out("effective memory type of a guest access, per guest PAT type:\n");
    io.out(scenarioTable(s));
    io.out("\n" + hazardText(s.hazards));
    return 0;
  },
};

function vs(p: Policy, q: Policy, asJson: boolean, io: Io): number {
  const cmp = comparePolicies(p, q);
  if (asJson) {
    io.out(
      json({
        policy: p.name,
        vs: q.name,
        equal: cmp.equal,
        inputs: cmp.inputs,
        differences: cmp.groups.map((g) => ({
          when: g.when.map(cubeToJson),
          [p.name]: { mask: g.a.mask, rule: ruleName(g.a.origin) },
          [q.name]: { mask: g.b.mask, rule: ruleName(g.b.origin) },
        })),
      } satisfies ExplainVsJson),
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
  io.out(differenceTable(p, q, cmp));
  return 0;
}
