// Command stage: `kspec import` — a kernel function turned into a policy file that checks equal to it.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { importTree } from "../../checker/import.js";
import { openFunction, DEFAULT_FUNCTION } from "../../checker/extract.js";
import { checkPolicy } from "../../checker/check.js";
import { InputError } from "../../spec/errors.js";
import { parseSpecText, displayPath } from "../../spec/load.js";
import { ROOT } from "../../spec/root.js";
import { toPolicy } from "../../spec/validate.js";
import { policyFileText } from "../../spec/write.js";
import { str, type Command } from "../command.js";
import { refuseNearTree, writeFileAtomic } from "../io.js";
import { flagMacros, kernelTree, KERNEL_HELP } from "../kernel.js";

export const importCmd: Command = {
  name: "import",
  summary: "write a policy file equal to a kernel function (one rule per way the C returns)",
  usage: "kspec import --kernel DIR --name N [--function F] [--flag F] [--out FILE] [--force]",
  details: `${KERNEL_HELP}
Writes spec/policies/N.ts (relative to the current directory) or --out FILE: an ordered rule list, one rule per
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
  async run({ values }, io) {
    const name = str(values, "name");
    if (!name || !/^[a-z0-9][a-z0-9.-]*$/.test(name))
      throw new InputError("import needs --name N (lower case letters, digits, '.' and '-')");
    const out = resolve(str(values, "out") ?? join("spec", "policies", `${name}.ts`));
    if (existsSync(out) && !values.force)
      throw new InputError(`${displayPath(out)} exists (use --force to replace it)`);
    const tree = kernelTree(values);
    refuseNearTree(str(values, "out") ? "--out" : "import's output", out, tree.realRoot);
    const macros = await flagMacros(values);
    const fn = str(values, "function") ?? DEFAULT_FUNCTION;
    const p = importTree(tree, macros, fn, name);
    const version = p.kernelVersion ? `Linux ${p.kernelVersion}` : "kernel version unknown";
    const text = await policyFileText(p, {
      file: out,
      dsl: join(ROOT, "spec", "dsl.ts"),
      header: [
        `Imported by kspec from ${p.fn.file} ${p.fn.name}() (${version}).`,
        "One rule per way the C returns, in the C's order; each names the C line it came from.",
      ],
      provenance: (r) => {
        const ret = r === "default" ? p.default.ret : p.rules.find((x) => x.name === r.name)!.ret;
        return `${ret.file}:${ret.line} (${version})`;
      },
    });
    // Read back exactly what will be written, validate it, and prove it equal to the C.
    const back = toPolicy(await parseSpecText(text, displayPath(out)));
    const { info, interp } = openFunction(tree, fn, macros);
    const v = checkPolicy(interp, info, back);
    if (v.verdict !== "equal") throw new Error(`internal: the imported policy is ${v.verdict} to ${fn}()`);
    writeFileAtomic(out, text);
    io.out(
      `wrote ${displayPath(out)}: ${back.rules.length} rules and a default, equal to ${info.name}() at ${info.file}:${info.line} on all ${v.combinations} combinations\n`,
    );
    return 0;
  },
};
