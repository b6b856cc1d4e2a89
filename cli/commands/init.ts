// Command stage: `kspec init` — a starter kspec.config.json and one policy file in the current directory, for a
// repository of one's own policies. Never over an existing file.

import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { CONFIG_FILE, configFile } from "../../spec/config.js";
import { InputError } from "../../spec/errors.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { policyFileText } from "../../spec/write.js";
import { str, type Command } from "../command.js";
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
  usage: "kspec init [--config FILE]",
  details: `kspec.config.json names the policies directory; --policy my-policy then finds the policy from here and
any directory below. The policy imports definePolicy from "kspec" (npm install kspec for the types).
--config FILE writes the config there instead (the policies directory goes beside it).
A config further up is hidden from here down by the new one: init says so.
Exit: 0; 2 when either file exists (nothing is written).`,
  optionHelp: { config: "where to write the config (default: ./kspec.config.json)" },
  options: {},
  writesConfig: true,
  async run({ values }, io) {
    const config = resolve(str(values, "config") ?? CONFIG_FILE);
    const policy = join(dirname(config), "policies", "my-policy.ts");
    const files = [
      [config, CONFIG],
      [policy, await starterPolicy(policy)],
    ] as const;
    const present = files.filter(([f]) => existsSync(f)).map(([f]) => f);
    if (present.length)
      throw new InputError(
        `${present.join(", ")} ${present.length > 1 ? "exist" : "exists"}: kspec init writes over nothing`,
      );
    const above = configFile(undefined, dirname(dirname(config)));
    for (const [f, text] of files) writeFileAtomic(f, text);
    const shown = (f: string) => relative(process.cwd(), f) || f;
    io.out(`wrote ${shown(config)} and ${shown(policy)}\n`);
    // Configs are found by the name kspec.config.json: only one of that name hides the one above.
    if (above && basename(config) === CONFIG_FILE)
      io.err(
        `kspec: note: ${above} is further up; from ${shown(dirname(config)) || "."} down, the new config is the one read\n`,
      );
    return 0;
  },
};
