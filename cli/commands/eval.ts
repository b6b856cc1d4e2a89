// Command stage: `kspec eval` — the full truth table of a policy over the inputs it reads.

import { InputError } from "../../spec/errors.js";
import { policyInputs, truthTable } from "../../spec/evaluate.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { str, type Command } from "../command.js";
import { hex, json, table } from "../io.js";
import { cell, rowJson } from "../policy-view.js";
import { ruleLabel } from "../../spec/ir.js";
import { domainOf } from "../../spec/vocabulary.js";
import type { EvalJson } from "../json-types.js";

/** A full truth table is printed row by row; beyond this, explain's scenarios say the same in fewer lines. */
export const MAX_ROWS = 1 << 16;

export const evalCmd: Command = {
  name: "eval",
  summary: "the full truth table of a policy",
  usage: "kspec eval --policy P [--json]",
  details: `P: a built-in policy (kspec list), a path to a .ts policy file, or BASE+PROPOSAL.
--json: { "policy", "inputs": [...], "rows": [ { "inputs": {...}, "mask", "type", "ipat", "rule" } ] }
Tables over ${1 << 16} rows are refused (explain and check scale path-wise).
Exit: 0, 2 on a bad policy or an oversized table (every validation error printed as file:line:col: message).`,
  options: { policy: { type: "string" }, json: { type: "boolean" } },
  async run({ values }, io) {
    const expr = str(values, "policy");
    if (!expr) throw new InputError("eval needs --policy P");
    const p = await resolvePolicy(expr);
    const inputs = policyInputs(p);
    const n = inputs.reduce((k, i) => Math.min(k * domainOf(i).length, MAX_ROWS + 1), 1);
    if (n > MAX_ROWS)
      throw new InputError(
        `policy ${p.name} has more than ${MAX_ROWS} rows (${inputs.length} inputs), over eval's limit: kspec explain and kspec check work path-wise and scale to it`,
      );
    const rows = truthTable(p, inputs);
    if (values.json) {
      io.out(
        json({
          policy: p.name,
          inputs,
          rows: rows.map((r) => rowJson(r.inputs, r.result)),
        } satisfies EvalJson),
      );
      return 0;
    }
    io.out(`policy ${p.name}: ${p.source}\n${rows.length} rows over ${inputs.length} inputs\n\n`);
    io.out(
      table(
        [...inputs, "mask", "type", "rule"],
        rows.map((r) => [
          ...inputs.map((n) => cell(r.inputs.get(n))),
          hex(r.result.mask),
          `${r.result.type}${r.result.ipat ? "|IPAT" : ""}`,
          ruleLabel(r.result.rule),
        ]),
      ),
    );
    return 0;
  },
};
