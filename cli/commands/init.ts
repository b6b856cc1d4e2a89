// Command stage: `kspec init` — a starter kspec.config.json and one policy file in the current directory, for a
// repository of one's own policies. Never over an existing file.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CONFIG_FILE } from "../../spec/config.js";
import { InputError } from "../../spec/errors.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { policyFileText } from "../../spec/write.js";
import type { Command } from "../command.js";
import { writeFileAtomic } from "../io.js";

const CONFIG = `{
  "policies": ["policies"]
}
`;

/** The starter policy: Linux 6.12's built-in policy, written as a file of the user's that imports from "kspec". */
async function starterPolicy(file: string): Promise<string> {
  const base = await resolvePolicy("linux-6.12");
  return policyFileText(
    { ...base, name: "my-policy", source: `my repository; starts as ${base.source}` },
    {
      file,
      dsl: "kspec",
      header: [
        "A policy of your own: Linux 6.12's behaviour, to edit. kspec reads this file as data (it never runs it);",
        "the types make your editor complete input names and values, and `tsc --noEmit` check the file.",
        "Check it against a tree:  npx kspec check --kernel ~/src/linux --policy my-policy",
        'Inputs of your own: bind them to C in kspec.config.json ("inputs"), and declare them for the types:',
        '  declare module "kspec" { interface KspecInputs { iommuAttached: boolean } }',
      ],
      provenance: () => undefined,
    },
  );
}

export const init: Command = {
  name: "init",
  summary: "write a starter kspec.config.json and policies/my-policy.ts here (never over an existing file)",
  usage: "kspec init",
  details: `kspec.config.json names the policies directory; --policy my-policy then finds the policy from here and
any directory below. The policy imports definePolicy from "kspec" (npm install kspec for the types).
Exit: 0; 2 when either file exists (nothing is written).`,
  options: {},
  async run(_args, io) {
    const policy = resolve(join("policies", "my-policy.ts"));
    const files = [
      [resolve(CONFIG_FILE), CONFIG],
      [policy, await starterPolicy(policy)],
    ] as const;
    const present = files.filter(([f]) => existsSync(f)).map(([f]) => f);
    if (present.length) throw new InputError(`${present.join(", ")} exists: kspec init writes over nothing`);
    for (const [f, text] of files) writeFileAtomic(f, text);
    io.out(`wrote ${CONFIG_FILE} and policies/my-policy.ts\n`);
    return 0;
  },
};
