// Command stage: how a check verdict is shown — human text and the JSON of docs/schemas/check.schema.json — shared by check,
// verify-patch and sync.

import type { Verdict } from "../checker/check.js";
import { counterexampleRows } from "../checker/check.js";
import { problemText } from "../kernel/problems.js";
import { cubeToJson, formatCube } from "../spec/cubes.js";
import { formatLoc, ruleLabel, type Policy } from "../spec/ir.js";
import { describeMask } from "../spec/memtypes.js";
import { paintWord, type Io } from "./io.js";
import { maskJson, type CheckJson } from "./json-types.js";

export const COUNTEREXAMPLE_LIMIT = 256;

export function verdictExit(v: Verdict): number {
  return v.verdict === "equal" ? 0 : v.verdict === "differs" ? 1 : 2;
}

export function fnText(v: Verdict): string {
  return v.fn.file ? `${v.fn.name}() at ${v.fn.file}:${v.fn.line}` : `${v.fn.name}()`;
}

/** `io` paints the verdict word (colour on a terminal only). */
export function verdictText(v: Verdict, policy: Policy, io?: Pick<Io, "paint">): string {
  const word = io ? paintWord(io, v.verdict) : v.verdict;
  const out: string[] = [];
  if (v.verdict === "equal") {
    out.push(`equal: ${fnText(v)} computes policy ${policy.name}`);
    out.push(
      `  on all ${v.combinations} combinations of ${v.inputs.join(", ") || "(no inputs)"} (${v.paths} paths)`,
    );
  } else if (v.verdict === "unverifiable") {
    out.push(`${word}: ${fnText(v)} cannot be checked against ${policy.name}:`);
    for (const p of v.problems) out.push(`  ${problemText(p)}`);
  } else {
    out.push(`${word}: ${fnText(v)} vs policy ${policy.name}`);
    out.push(`  ${v.differing} of ${v.combinations} combinations of ${v.inputs.join(", ")} differ:`);
    for (const g of v.groups) {
      const rule = g.b.origin.rule;
      const ruleAt = formatLoc(rule ? rule.loc : policy.default.loc);
      for (const c of g.when) {
        out.push("");
        out.push(`  when ${formatCube(c)}:`);
        out.push(`    C gives ${describeMask(g.a.mask)}, returning at ${g.a.origin.file}:${g.a.origin.line}`);
        out.push(
          `    policy ${rule ? `rule ${rule.name}` : "default"} at ${ruleAt} gives ${describeMask(g.b.mask)}`,
        );
      }
    }
  }
  for (const n of v.notes ?? []) out.push(`note: ${n}`);
  return out.join("\n") + "\n";
}

export function verdictJson(v: Verdict, policy: Policy): CheckJson {
  const base = {
    verdict: v.verdict,
    function: v.fn,
    policy: policy.name,
    inputs: v.inputs,
    ...(v.notes ? { notes: v.notes } : {}),
  };
  if (v.verdict === "unverifiable") return { ...base, counterexamples: [], problems: v.problems };
  if (v.verdict === "equal")
    return { ...base, combinations: v.combinations, counterexamples: [], problems: [] };
  const counterexamples: CheckJson["counterexamples"] = [];
  let truncated = false;
  for (const g of v.groups) {
    const rows = counterexampleRows(g, v.inputs, COUNTEREXAMPLE_LIMIT - counterexamples.length);
    for (const row of rows) {
      const rule = g.b.origin.rule;
      const at = rule ? rule.loc : policy.default.loc;
      counterexamples.push({
        inputs: Object.fromEntries(row),
        c: {
          ...maskJson(g.a.mask),
          file: g.a.origin.file,
          line: g.a.origin.line,
        },
        spec: {
          mask: g.b.mask,
          type: g.b.origin.type,
          ipat: g.b.origin.ipat,
          rule: ruleLabel(rule),
          file: at.file,
          line: at.line,
        },
      });
    }
    if (counterexamples.length >= COUNTEREXAMPLE_LIMIT) truncated = true;
  }
  return {
    ...base,
    combinations: v.combinations,
    differing: v.differing,
    groups: v.groups.map((g) => ({
      when: g.when.map(cubeToJson),
      c: { mask: g.a.mask, file: g.a.origin.file, line: g.a.origin.line },
      spec: { mask: g.b.mask, rule: ruleLabel(g.b.origin.rule) },
    })),
    counterexamples,
    truncated,
    problems: [],
  };
}
