// Verify stage: a patch series applied step by step to a tree's overlay — after each patch, what changed, whether
// vmx_get_mt_mask() changed meaning (the rows, before -> after) and whether the memslot-flag plumbing is
// consistent; at the end, the check against the policy. The tree on disk is never written.

import { compareFns, type DiffGroup } from "../spec/compare.js";
import type { Policy } from "../spec/ir.js";
import { checkPolicy, type Verdict } from "./check.js";
import {
  DEFAULT_FUNCTION,
  extractWith,
  openFunction,
  type Extraction,
  type FunctionInfo,
} from "./extract.js";
import type { CLoc, Problem } from "./interp.js";
import { applyTo, type Patch } from "./patchset.js";
import { plumbing, type Finding, type PlumbingReport } from "./plumbing.js";
import type { KernelTree } from "./tree.js";
import { maskSide, runner } from "./extract.js";
import { InputError } from "../spec/errors.js";

export interface Meaning {
  /** Unchanged, changed (with the rows), or not extractable before/after. */
  kind: "unchanged" | "changed" | "unverifiable";
  fn?: FunctionInfo;
  groups: DiffGroup<CLoc, CLoc>[];
  problems: Problem[];
}

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
  /** Plumbing items still not done at the end of the series. */
  incomplete: Finding[];
  bisectable: boolean;
}

type Opened = { info: FunctionInfo; x: Extraction; run: ReturnType<typeof runner> } | { problem: Problem };

/** The function of a tree state, extracted; a state in which it cannot even be located is a problem too. */
function open(tree: KernelTree, flagMacros: readonly string[]): Opened {
  try {
    const { info, interp } = openFunction(tree, DEFAULT_FUNCTION, flagMacros);
    return { info, x: extractWith(interp, info), run: runner(interp) };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return {
      problem: { kind: "not-located", name: DEFAULT_FUNCTION, file: "", line: 0, message: e.message },
    };
  }
}

function meaning(before: KernelTree, after: KernelTree, flagMacros: readonly string[]): Meaning {
  const a = open(before, flagMacros);
  const b = open(after, flagMacros);
  if ("problem" in b) return { kind: "unverifiable", groups: [], problems: [b.problem] };
  if ("problem" in a) return { kind: "unverifiable", fn: b.info, groups: [], problems: [a.problem] };
  if (a.x.kind === "unverifiable" || b.x.kind === "unverifiable") {
    return {
      kind: "unverifiable",
      fn: b.info,
      groups: [],
      problems: b.x.kind === "unverifiable" ? b.x.problems : a.x.kind === "unverifiable" ? a.x.problems : [],
    };
  }
  const cmp = compareFns(maskSide(a.run), maskSide(b.run), (o) => `${o.file}:${o.line}`);
  return { kind: cmp.equal ? "unchanged" : "changed", fn: b.info, groups: cmp.groups, problems: [] };
}

/** New KVM_MEM_* flags a state defines over the base: candidates for the slotFlag input. */
export function newFlags(tree: KernelTree, base: KernelTree): string[] {
  return plumbing(tree, base).flags.map((f) => f.macro);
}

export function verifySeries(
  base: KernelTree,
  patches: readonly Patch[],
  policy: Policy,
  flagMacros: readonly string[],
): VerifyReport {
  const steps: StepReport[] = [];
  let tree = base;
  const touched = new Set<string>();
  for (const [i, p] of patches.entries()) {
    const applied = applyTo(tree, p);
    applied.changed.forEach((f) => touched.add(f));
    const m = meaning(tree, applied.tree, flagMacros);
    const pl = plumbing(applied.tree, base, [], [...touched]);
    steps.push({
      index: i + 1,
      patch: p,
      changed: applied.changed,
      meaning: m,
      plumbing: pl,
      bisectable: pl.problems.length === 0,
      extractable: m.kind !== "unverifiable",
    });
    tree = applied.tree;
  }
  const { info, interp } = openFunction(tree, DEFAULT_FUNCTION, flagMacros);
  const final = checkPolicy(interp, info, policy);
  const last = steps[steps.length - 1]?.plumbing;
  const incomplete = last ? last.flags.flatMap((f) => f.pending) : [];
  return { steps, final, policy, incomplete, bisectable: steps.every((s) => s.bisectable) };
}
