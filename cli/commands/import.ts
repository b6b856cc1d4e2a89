// Command stage: `kspec import` — a kernel function turned into a policy file that checks equal to it.

import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { importAndProve } from "../../checker/import.js";
import { activeConfig } from "../../spec/config.js";
import { InputError } from "../../spec/errors.js";
import { displayPath } from "../../spec/load.js";
import { ROOT } from "../../spec/root.js";
import { str, type Command } from "../command.js";
import { refuseNearTree, writeFileAtomic } from "../io.js";
import { kernelOptions, KERNEL_HELP } from "../kernel.js";

export const importCmd: Command = {
  name: "import",
  summary: "write a policy file equal to a kernel function (one rule per way the C returns)",
  usage: "kspec import --kernel DIR --name N [--function F] [--flag F] [--out FILE] [--force]",
  details: `${KERNEL_HELP}
Writes N.ts into the first "policies" directory of kspec.config.json (else spec/policies/ here), or --out FILE: an ordered rule list, one rule per
way the C returns, in the C's order, conditions simplified by that order, each commented with the C file:line
and the kernel version; formatted with prettier. Before writing, the file is read back, validated, and checked
equal to the C. An existing file is kept unless --force.
Exit: 0, 2 when the function cannot be modeled or on bad input (nothing is written).`,
  options: {
    kernel: { type: "string" },
    name: { type: "string" },
    function: { type: "string" },
    flag: { type: "string" },
    out: { type: "string" },
    force: { type: "boolean" },
  },
  optionHelp: {
    name: "the policy's name (lower case letters, digits, '.' and '-')",
    out: "the policy file to write (default: N.ts in the config's first policies directory, or spec/policies/)",
    force: "replace an existing file",
  },
  async run({ values }, io) {
    const name = str(values, "name");
    if (!name || !/^[a-z0-9][a-z0-9.-]*$/.test(name))
      throw new InputError("import needs --name N (lower case letters, digits, '.' and '-')");
    // The config's first policies directory, where --policy NAME will find it; else spec/policies here.
    const dir = activeConfig().policies[0] ?? join("spec", "policies");
    const out = resolve(str(values, "out") ?? join(dir, `${name}.ts`));
    if (existsSync(out) && !values.force)
      throw new InputError(`${displayPath(out)} exists (use --force to replace it)`);
    const k = await kernelOptions(values);
    refuseNearTree(str(values, "out") ? "--out" : "import's output", out, k.tree.realRoot);
    // Inside kspec's own repository the import is relative; anywhere else, from the installed package.
    const inside = !relative(ROOT, out).startsWith("..");
    const dsl = inside ? join(ROOT, "spec", "dsl.ts") : "kspec";
    const r = await importAndProve(k.tree, { ...k, name, file: out, dsl });
    writeFileAtomic(out, r.text);
    io.out(
      `wrote ${displayPath(out)}: ${r.policy.rules.length} rules and a default, equal to ${r.fn.name}() at ${r.fn.file}:${r.fn.line} on all ${r.combinations} combinations\n`,
    );
    return 0;
  },
};
