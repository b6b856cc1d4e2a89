// Command stage: `kspec diff` — the semantic difference of a kernel function between two trees.

import { cubeToJson, formatCube } from "../../spec/cubes.js";
import { InputError } from "../../spec/errors.js";
import { describeMask } from "../../spec/memtypes.js";
import { problemText } from "../../kernel/problems.js";
import { treeDiff } from "../../checker/diff.js";
import { str, type Command } from "../command.js";
import { json, paintWord } from "../io.js";
import { flagMacros, openTree } from "../kernel.js";
import { DEFAULT_FUNCTION } from "../../kernel/locate.js";
import type { DiffJson } from "../json-types.js";

export const diffCmd: Command = {
  name: "diff",
  summary: "the semantic difference of a kernel function between two trees",
  usage: "kspec diff --kernel A --kernel B [--function F] [--flag F] [--json]",
  details: `The rows whose EPT mask changed from tree A to tree B, grouped into a few conditions ("when ...: 0x70 -> 0x30"),
and the inputs that one version reads and the other does not.
--json: { "verdict": "unchanged" | "changed" | "unverifiable", ... }
Exit: 0 unchanged, 1 changed, 2 when either function cannot be modeled or on bad input.`,
  options: {
    kernel: { type: "string", multiple: true },
    function: { type: "string" },
    flag: { type: "string" },
    json: { type: "boolean" },
  },
  optionHelp: {
    kernel: "the two trees, A then B (each a directory or DIR@REV)",
  },
  async run({ values }, io) {
    const dirs = (values.kernel as string[] | undefined) ?? [];
    if (dirs.length !== 2) throw new InputError("diff needs --kernel A --kernel B");
    const fn = str(values, "function") ?? DEFAULT_FUNCTION;
    const [a, b] = dirs.map(openTree);
    // Grouped by the two masks only: where the C returns from is detail, the change is what matters here.
    const m = treeDiff(a, b, { function: fn, flagMacros: await flagMacros(values), groupBy: "mask" });
    if (m.kind === "unverifiable") {
      const dir = m.side === "a" ? dirs[0] : dirs[1];
      if (values.json)
        io.out(json({ verdict: "unverifiable", tree: dir, problems: m.problems } satisfies DiffJson));
      else
        io.out(
          `${paintWord(io, "unverifiable")}: ${m.fn ? `${m.fn.name}() at ${m.fn.file}:${m.fn.line}` : `${fn}()`} in ${dir}:\n${m.problems.map((p) => `  ${problemText(p)}\n`).join("")}`,
        );
      return 2;
    }
    const onlyA = m.a.inputs.filter((i) => !m.b.inputs.includes(i));
    const onlyB = m.b.inputs.filter((i) => !m.a.inputs.includes(i));
    if (values.json) {
      io.out(
        json({
          verdict: m.kind,
          function: fn,
          a: { kernel: dirs[0], function: m.a.fn, inputs: m.a.inputs },
          b: { kernel: dirs[1], function: m.b.fn, inputs: m.b.inputs },
          onlyA,
          onlyB,
          changes: m.groups.map((g) => ({ when: g.when.map(cubeToJson), a: g.a.mask, b: g.b.mask })),
        } satisfies DiffJson),
      );
      return m.kind === "unchanged" ? 0 : 1;
    }
    io.out(
      `A: ${m.a.fn.name}() at ${m.a.fn.file}:${m.a.fn.line} in ${dirs[0]}\nB: ${m.b.fn.name}() at ${m.b.fn.file}:${m.b.fn.line} in ${dirs[1]}\n\n`,
    );
    if (onlyA.length) io.out(`inputs only A reads: ${onlyA.join(", ")}\n`);
    if (onlyB.length) io.out(`inputs only B reads: ${onlyB.join(", ")}\n`);
    if (m.kind === "unchanged") {
      io.out(`same meaning on all inputs (${m.inputs.join(", ") || "none"})\n`);
      return 0;
    }
    const conditions = m.groups.reduce((n, g) => n + g.when.length, 0);
    io.out(`${conditions} condition${conditions === 1 ? "" : "s"} where the mask changed (A -> B):\n`);
    for (const g of m.groups)
      for (const c of g.when)
        io.out(`  when ${formatCube(c)}: ${describeMask(g.a.mask)} -> ${describeMask(g.b.mask)}\n`);
    return 1;
  },
};
