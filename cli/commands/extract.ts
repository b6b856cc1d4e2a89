// Command stage: `kspec extract` — the decision table a kernel function computes.

import { expand } from "../../spec/evaluate.js";
import { cubeOf, cubeToJson, formatCube } from "../../spec/cubes.js";
import { findHazards } from "../../spec/hazards.js";
import { hazardText } from "../../spec/explain.js";
import { describeMask } from "../../spec/memtypes.js";
import { extract } from "../../checker/extract.js";
import type { Command } from "../command.js";
import { json, paintWord, table } from "../io.js";
import { KERNEL_HELP, KERNEL_OPTIONS, kernelOptions } from "../kernel.js";
import { problemText } from "../../kernel/problems.js";
import { maskJson, type ExtractJson } from "../json-types.js";

export const extractCmd: Command = {
  name: "extract",
  summary: "the decision table a kernel function computes",
  usage: "kspec extract --kernel DIR [--function F] [--flag F] [--json]",
  details: `${KERNEL_HELP}
--json: { "function": {name, file, line}, "inputs": [...], "rows": [ { "inputs": {...}, "mask", "type", "ipat", "line" } ],
          "paths": [ { "when": {...}, "mask", "line" } ], "problems": [] }
Exit: 0, 2 when the function cannot be extracted (problems name the construct and file:line).`,
  options: { ...KERNEL_OPTIONS, json: { type: "boolean" } },
  async run({ values }, io) {
    const k = await kernelOptions(values);
    const x = extract(k.tree, k);
    const info = x.fn;
    if (x.kind === "unverifiable") {
      if (values.json)
        io.out(
          json({
            function: info,
            inputs: x.inputs,
            rows: [],
            paths: [],
            problems: x.problems,
          } satisfies ExtractJson),
        );
      else {
        io.out(
          `${paintWord(io, "unverifiable")}: ${info.name}()${info.file ? ` at ${info.file}:${info.line}` : ""}:\n`,
        );
        for (const p of x.problems) io.out(`  ${problemText(p)}\n`);
      }
      return 2;
    }
    if (values.json) {
      const rows = x.leaves.flatMap((l) =>
        expand(l.env, x.inputs).map((row) => {
          return { inputs: Object.fromEntries(row), ...maskJson(l.mask), line: l.ret.line };
        }),
      );
      const doc: ExtractJson = {
        function: info,
        inputs: x.inputs,
        rows,
        paths: x.leaves.map((l) => ({ when: cubeToJson(cubeOf(l.env)), mask: l.mask, line: l.ret.line })),
        problems: [],
      };
      io.out(json(doc));
      return 0;
    }
    io.out(`${info.name}() at ${info.file}:${info.line} reads ${x.inputs.join(", ") || "no inputs"}\n\n`);
    io.out(
      table(
        ["when", "EPT", "returns at"],
        x.leaves.map((l) => [formatCube(cubeOf(l.env)), describeMask(l.mask), `${l.ret.file}:${l.ret.line}`]),
      ),
    );
    io.out("\n" + hazardText(findHazards(x.leaves, x.inputs)));
    return 0;
  },
};
