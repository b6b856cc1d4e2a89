// Command stage: `kspec eval` — the full truth table of a policy over the inputs it reads.

import { InputError } from "../../spec/errors.js";
import { policyInputs, truthTable } from "../../spec/evaluate.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { str, type Command } from "../command.js";
import { hex, json, table } from "../io.js";
import { cell, rowJson } from "../policy-view.js";
import { ruleLabel } from "../../spec/ir.js";

export const evalCmd: Command = {
  name: "eval",
  summary: "the full truth table of a policy",
  usage: "kspec eval --policy P [--json]",
  details: `P: a built-in policy (kspec list), a path to a .ts policy file, or BASE+PROPOSAL.
--json: { "policy", "inputs": [...], "rows": [ { "inputs": {...}, "mask", "type", "ipat", "rule" } ] }
Exit: 0, 2 on a bad policy (every validation error printed as file:line:col: message).`,
  options: { policy: { type: "string" }, json: { type: "boolean" } },
  async run({ values }, io) {
    const expr = str(values, "policy");
    if (!expr) throw new InputError("eval needs --policy P");
    const p = await resolvePolicy(expr);
    const inputs = policyInputs(p);
    const rows = truthTable(p, inputs);
    if (values.json) {
      io.out(json({ policy: p.name, inputs, rows: rows.map((r) => rowJson(r.inputs, r.result)) }));
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
