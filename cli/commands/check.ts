// Command stage: `kspec check` — the C of a tree against a policy, every input combination.

import { checkTree } from "../../checker/check.js";
import { InputError } from "../../spec/errors.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { str, type Command } from "../command.js";
import { json } from "../io.js";
import { KERNEL_HELP, KERNEL_OPTIONS, kernelOptions } from "../kernel.js";
import { verdictExit, verdictJson, verdictText } from "../verdict-view.js";
import { sarifForVerdicts } from "../sarif.js";

export const check: Command = {
  name: "check",
  summary: "C vs policy on every input combination: equal, differs (counterexamples) or unverifiable",
  usage: "kspec check --kernel DIR --policy P [--function F] [--flag F] [--json|--sarif]",
  details: `${KERNEL_HELP}
Exit: 0 equal, 1 differs (counterexamples: the inputs, what the C returns and where, the policy rule and where),
2 unverifiable (a construct, call or macro kspec does not model, named with file:line) or bad input.`,
  options: {
    ...KERNEL_OPTIONS,
    policy: { type: "string" },
    json: { type: "boolean" },
    sarif: { type: "boolean" },
  },
  async run({ values }, io) {
    const expr = str(values, "policy");
    if (!expr) throw new InputError("check needs --policy P");
    if (values.json && values.sarif) throw new InputError("--json and --sarif exclude each other");
    const policy = await resolvePolicy(expr);
    const k = await kernelOptions(values);
    const v = checkTree(k.tree, policy, k);
    if (values.json) io.out(json(verdictJson(v, policy)));
    else if (values.sarif)
      io.out(json(sarifForVerdicts([{ verdict: v, policy, kernel: str(values, "kernel")! }])));
    else io.out(verdictText(v, policy, io));
    return verdictExit(v);
  },
};
