// Command stage: `kspec diff` — the semantic difference of a kernel function between two trees.

import { compareFns } from "../../spec/compare.js";
import { cubeToJson, formatCube } from "../../spec/cubes.js";
import { InputError } from "../../spec/errors.js";
import { describeMask } from "../../spec/memtypes.js";
import { KernelTree } from "../../checker/tree.js";
import { extractWith, maskSide, openFunction, runner, DEFAULT_FUNCTION } from "../../checker/extract.js";
import { str, type Command } from "../command.js";
import { json } from "../io.js";
import { flagMacros } from "../kernel.js";
import { problemText } from "../verdict-view.js";

export const diffCmd: Command = {
  name: "diff",
  summary: "the semantic difference of a kernel function between two trees",
  usage: "kspec diff --kernel A --kernel B [--function F] [--flag F] [--json]",
  details: `The rows whose EPT mask changed from tree A to tree B, grouped into a few conditions ("when ...: 0x70 -> 0x30"),
and the inputs that one version reads and the other does not.
Exit: 0 same meaning, 1 different, 2 when either function cannot be modeled or on bad input.`,
  options: {
    kernel: { type: "string", multiple: true },
    function: { type: "string" },
    flag: { type: "string" },
    json: { type: "boolean" },
  },
  async run({ values }, io) {
    const dirs = (values.kernel as string[] | undefined) ?? [];
    if (dirs.length !== 2) throw new InputError("diff needs --kernel A --kernel B");
    const macros = await flagMacros(values);
    const fn = str(values, "function") ?? DEFAULT_FUNCTION;
    const sides = dirs.map((d) => {
      const { info, interp } = openFunction(KernelTree.open(d), fn, macros);
      return { dir: d, info, x: extractWith(interp, info), run: runner(interp) };
    });
    for (const s of sides) {
      if (s.x.kind === "unverifiable") {
        const msg = `unverifiable: ${s.info.name}() at ${s.info.file}:${s.info.line} in ${s.dir}:\n${s.x.problems.map((p) => `  ${problemText(p)}\n`).join("")}`;
        if (values.json) io.out(json({ verdict: "unverifiable", tree: s.dir, problems: s.x.problems }));
        else io.out(msg);
        return 2;
      }
    }
    const [a, b] = sides;
    // Grouped by the two masks only: where the C returns from is detail, the change is what matters here.
    const cmp = compareFns(maskSide(a.run), maskSide(b.run), () => "");
    const onlyA = a.x.inputs.filter((i) => !b.x.inputs.includes(i));
    const onlyB = b.x.inputs.filter((i) => !a.x.inputs.includes(i));
    if (values.json) {
      io.out(
        json({
          verdict: cmp.equal ? "same" : "different",
          function: fn,
          a: { kernel: a.dir, function: a.info, inputs: a.x.inputs },
          b: { kernel: b.dir, function: b.info, inputs: b.x.inputs },
          onlyA,
          onlyB,
          changes: cmp.groups.map((g) => ({ when: g.when.map(cubeToJson), a: g.a.mask, b: g.b.mask })),
        }),
      );
      return cmp.equal ? 0 : 1;
    }
    io.out(
      `A: ${a.info.name}() at ${a.info.file}:${a.info.line} in ${a.dir}\nB: ${b.info.name}() at ${b.info.file}:${b.info.line} in ${b.dir}\n\n`,
    );
    if (onlyA.length) io.out(`inputs only A reads: ${onlyA.join(", ")}\n`);
    if (onlyB.length) io.out(`inputs only B reads: ${onlyB.join(", ")}\n`);
    if (cmp.equal) {
      io.out(`same meaning on all inputs (${cmp.inputs.join(", ") || "none"})\n`);
      return 0;
    }
    io.out(
      `${cmp.groups.reduce((n, g) => n + g.when.length, 0)} conditions where the mask changed (A -> B):\n`,
    );
    for (const g of cmp.groups)
      for (const c of g.when)
        io.out(`  when ${formatCube(c)}: ${describeMask(g.a.mask)} -> ${describeMask(g.b.mask)}\n`);
    return 1;
  },
};
