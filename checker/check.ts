// Compare stage: the C of a kernel tree against a policy, on every combination of the inputs either reads.
// The outcome is a type: equal, differs (with counterexamples grouped by C return and policy rule), or
// unverifiable (with the problems that stopped the interpreter).

import { compareFns, type DiffGroup } from "../spec/compare.js";
import {
  evaluate,
  expand,
  leafLookup,
  policyInputs,
  type Env,
  type ExploreOptions,
  type Result,
} from "../spec/evaluate.js";
import type { Policy } from "../spec/ir.js";
import { closest } from "../spec/suggest.js";
import { domainOf, FAMILIES, type InputValue } from "../spec/vocabulary.js";
import { Preprocessor } from "../kernel/cpp.js";
import type { CLoc, Problem } from "../kernel/problems.js";
import type { KernelTree } from "../kernel/tree.js";
import {
  DEFAULT_FUNCTION,
  extract,
  extractWith,
  type CLeaf,
  type Extraction,
  type FunctionInfo,
} from "./extract.js";
import type { Interpreter } from "./interp.js";

export type Verdict = (
  | {
      verdict: "equal";
      fn: FunctionInfo;
      inputs: string[];
      combinations: number;
      paths: number;
      /** The C's table (every path, with the return that produced it): the generator places edits by it. */
      leaves: CLeaf[];
    }
  | {
      verdict: "differs";
      fn: FunctionInfo;
      inputs: string[];
      combinations: number;
      groups: DiffGroup<CLoc, Result>[];
      differing: number;
    }
  | { verdict: "unverifiable"; fn: FunctionInfo; inputs: string[]; problems: Problem[] }
) & {
  /** What a reader should know beside the verdict (a family input the tree does not define). */
  notes?: string[];
};

export function combinations(inputs: readonly string[]): number {
  return inputs.reduce((n, i) => n * domainOf(i).length, 1);
}

/** How many full assignments of `inputs` a set of partial ones stands for. */
export function coverage(paths: readonly Env[], inputs: readonly string[]): number {
  return paths.reduce((n, env) => n + combinations(inputs.filter((i) => !env.has(i))), 0);
}

/** A located function against a policy. */
export function checkFunction(
  interp: Interpreter,
  fn: FunctionInfo,
  policy: Policy,
  opts: ExploreOptions = {},
): Verdict {
  return checkExtraction(extractWith(interp, fn, opts), policy, opts);
}

/**
 * A function's decision table against a policy. The table's paths are replayed in the order the C read its
 * inputs (leafLookup), so the joint exploration is the one running the C itself would make.
 */
export function checkExtraction(x: Extraction, policy: Policy, opts: ExploreOptions = {}): Verdict {
  const fn = x.fn;
  if (x.kind === "unverifiable")
    return { verdict: "unverifiable", fn, inputs: x.inputs, problems: x.problems };
  const table = leafLookup(x.leaves);
  const cmp = compareFns(
    (env) => {
      const l = table(env);
      return { mask: l.mask, origin: l.ret };
    },
    (env) => {
      const r = evaluate(policy, env);
      return { mask: r.mask, origin: r };
    },
    (o) =>
      "line" in o && "file" in o ? `${o.file}:${o.line}` : `rule:${(o as Result).rule?.name ?? "default"}`,
    opts,
  );
  const n = combinations(cmp.inputs);
  if (cmp.equal)
    return { verdict: "equal", fn, inputs: cmp.inputs, combinations: n, paths: cmp.paths, leaves: x.leaves };
  const differing = cmp.groups.reduce((s, g) => s + coverage(g.paths, cmp.inputs), 0);
  return { verdict: "differs", fn, inputs: cmp.inputs, combinations: n, groups: cmp.groups, differing };
}

export interface CheckOptions extends ExploreOptions {
  /** The function (default vmx_get_mt_mask). */
  function?: string;
  /** The KVM_MEM_* macros that stand for slotFlag (checker/binding decides which). */
  flagMacros: readonly string[];
}

/** A kernel tree's function against a policy: equal, differs or unverifiable. */
export function checkTree(tree: KernelTree, policy: Policy, o: CheckOptions): Verdict {
  const v = checkExtraction(extract(tree, { ...o, function: o.function ?? DEFAULT_FUNCTION }), policy, o);
  if (v.verdict === "unverifiable") return v;
  const notes = unseenFamilyInputs(tree, v.fn.file, policy);
  return notes.length ? { ...v, notes } : v;
}

/**
 * The policy's family inputs (quirk:KVM_X86_QUIRK_X, cpu:X86_FEATURE_X) whose macro the function's file cannot
 * see: the C can never read such an input, so a difference on it is most often a misspelt name (or a policy
 * for trees that have the quirk or feature). Said beside the verdict, which stays what the comparison found.
 */
function unseenFamilyInputs(tree: KernelTree, file: string, policy: Policy): string[] {
  const family = policyInputs(policy).flatMap((name) => {
    const f = FAMILIES.find((x) => name.startsWith(x.prefix));
    return f ? [{ name, f, macro: name.slice(f.prefix.length) }] : [];
  });
  if (!family.length) return [];
  const pp = new Preprocessor(tree, file);
  return family
    .filter((x) => pp.lookup(x.macro).length === 0)
    .map(({ name, f, macro }) => {
      const near = closest(macro, pp.definedNames(f.macroPrefix)).slice(0, 3);
      return `the policy reads ${name}, but ${macro} is not defined where ${file} can see it, so the C never reads it${near.length ? `: did you mean ${near.map((m) => f.prefix + m).join(" or ")}?` : ""}`;
    });
}

/** Full input rows of a group's paths, for JSON counterexamples (at most `limit`). */
export function counterexampleRows(
  g: DiffGroup<CLoc, Result>,
  inputs: readonly string[],
  limit: number,
): Map<string, InputValue>[] {
  const rows: Map<string, InputValue>[] = [];
  for (const env of g.paths) {
    for (const row of expand(env, inputs)) {
      if (rows.length >= limit) return rows;
      rows.push(row);
    }
  }
  return rows;
}
