// Verify stage: a patch series applied step by step to a tree's overlay — after each patch, what changed, whether
// the function changed meaning (the rows, before -> after) and whether the memslot-flag plumbing is consistent;
// at the end, the check against the policy. The series is applied once; the flags it introduces are found on the
// way and stand for slotFlag with the built-in ones. The tree on disk is never written.

import type { Policy } from "../spec/ir.js";
import { resolvePolicy } from "../spec/resolve.js";
import { applyTo, readSeries, type Patch } from "../kernel/patchset.js";
import type { KernelTree } from "../kernel/tree.js";
import { slotFlagMacros } from "./binding.js";
import { checkTree, type Verdict } from "./check.js";
import { treeDiff, type Meaning } from "./diff.js";
import { importTree } from "./import.js";
import { plumbing, type Finding, type PlumbingReport } from "./plumbing.js";

export interface StepReport {
  index: number;
  patch: Patch;
  changed: string[];
  meaning: Meaning;
  plumbing: PlumbingReport;
  bisectable: boolean;
  /** The function can be extracted after this patch: a step that cannot be checked is never "consistent". */
  extractable: boolean;
}

export interface VerifyReport {
  steps: StepReport[];
  final: Verdict;
  policy: Policy;
  /** The macros that stood for slotFlag. */
  flagMacros: string[];
  /** Plumbing items still not done at the end of the series. */
  incomplete: Finding[];
  bisectable: boolean;
}

export interface VerifyOptions {
  /** A flag spec whose macro alone stands for slotFlag; otherwise the built-in flags and the series' own. */
  flag?: string;
  /** A policy expression; a bare proposal applies to the base tree's own function. */
  policy: string;
  function?: string;
}

/** A series of patches onto a base tree: every step checked, and the end state against the policy. */
export async function verifyPatches(
  base: KernelTree,
  patches: readonly Patch[],
  o: VerifyOptions,
): Promise<VerifyReport> {
  const states: {
    patch: Patch;
    before: KernelTree;
    after: KernelTree;
    changed: string[];
    touched: string[];
  }[] = [];
  let tree = base;
  const touched = new Set<string>();
  for (const p of patches) {
    const applied = applyTo(tree, p);
    applied.changed.forEach((f) => touched.add(f));
    states.push({
      patch: p,
      before: tree,
      after: applied.tree,
      changed: applied.changed,
      touched: [...touched],
    });
    tree = applied.tree;
  }
  const introduced = plumbing(tree, base).flags.map((f) => f.macro);
  const flagMacros = await slotFlagMacros({ flag: o.flag, introduced });
  const policy = await resolvePolicy(o.policy, async () => importTree(base, flagMacros, o.function));
  const steps: StepReport[] = states.map((s, i) => {
    const meaning = treeDiff(s.before, s.after, { function: o.function, flagMacros, groupBy: "origin" });
    const pl = plumbing(s.after, base, [], s.touched);
    return {
      index: i + 1,
      patch: s.patch,
      changed: s.changed,
      meaning,
      plumbing: pl,
      bisectable: pl.problems.length === 0,
      extractable: meaning.kind !== "unverifiable",
    };
  });
  const final = checkTree(tree, policy, { function: o.function, flagMacros });
  const last = steps[steps.length - 1]?.plumbing;
  const incomplete = last ? last.flags.flatMap((f) => f.pending) : [];
  return { steps, final, policy, flagMacros, incomplete, bisectable: steps.every((s) => s.bisectable) };
}

/** Patch inputs (files, mboxes, "-" for standard input) read as one series, then verified: `kspec verify-patch`. */
export async function verifyPatchInputs(
  base: KernelTree,
  inputs: readonly string[],
  stdin: () => Buffer,
  o: VerifyOptions,
): Promise<VerifyReport> {
  return verifyPatches(base, await readSeries(inputs, stdin), o);
}
