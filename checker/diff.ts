// Compare stage (C vs C): the semantic difference of a function between two states of a kernel — two trees, a
// tree before and after a patch, two commits. Outcomes in one word set: unchanged, changed (with the rows, before
// -> after, grouped), or unverifiable (with the problems, on either side). Used by verify-patch, diff and log.

import { compareFns, type DiffGroup } from "../spec/compare.js";
import type { CLoc, Problem } from "../kernel/problems.js";
import type { KernelTree } from "../kernel/tree.js";
import { NotLocated } from "../kernel/locate.js";
import {
  DEFAULT_FUNCTION,
  extractWith,
  maskSide,
  notLocated,
  openFunction,
  runner,
  type Extraction,
  type FunctionInfo,
} from "./extract.js";

export type Meaning =
  | {
      kind: "unchanged" | "changed";
      /** The function in each state (the second one's location is where its lines are). */
      a: Side;
      b: Side;
      /** Inputs either side reads, in vocabulary order. */
      inputs: string[];
      groups: DiffGroup<CLoc, CLoc>[];
    }
  | {
      kind: "unverifiable";
      /** Which side could not be read, and why. */
      side: "a" | "b";
      fn?: FunctionInfo;
      problems: Problem[];
    };

export interface Side {
  fn: FunctionInfo;
  inputs: string[];
  /** The memslot-flag macros the function tests in this state. */
  flagsTested: string[];
}

type Opened = { info: FunctionInfo; x: Extraction; run: ReturnType<typeof runner> } | { problem: Problem };

/** The function of a tree state, extracted; a state in which it cannot even be located is a problem too. */
export function openState(tree: KernelTree, fn: string, flagMacros: readonly string[]): Opened {
  try {
    const { info, interp } = openFunction(tree, fn, flagMacros);
    return { info, x: extractWith(interp, info), run: runner(interp) };
  } catch (e) {
    if (!(e instanceof NotLocated)) throw e;
    return { problem: notLocated(e).problem };
  }
}

export interface DiffOptions {
  function?: string;
  flagMacros: readonly string[];
  /**
   * `origin`: one group per pair of C returns (where each side decides: verify-patch shows the lines);
   * `mask`: one group per pair of masks (what changed, wherever it is decided: diff and log).
   */
  groupBy: "origin" | "mask";
}

/** What the function computes in `a` against what it computes in `b`, on every input either side reads. */
export function treeDiff(a: KernelTree, b: KernelTree, o: DiffOptions): Meaning {
  const fn = o.function ?? DEFAULT_FUNCTION;
  const x = openState(a, fn, o.flagMacros);
  const y = openState(b, fn, o.flagMacros);
  // The later state first: when both fail, its problems are the news.
  for (const [side, s] of [
    ["b", y],
    ["a", x],
  ] as const) {
    if ("problem" in s) return { kind: "unverifiable", side, problems: [s.problem] };
    if (s.x.kind === "unverifiable")
      return { kind: "unverifiable", side, fn: s.info, problems: s.x.problems };
  }
  if ("problem" in x || "problem" in y || x.x.kind !== "table" || y.x.kind !== "table")
    throw new Error("internal: unreachable");
  const [tx, ty] = [x.x, y.x];
  const cmp = compareFns(
    maskSide(x.run),
    maskSide(y.run),
    o.groupBy === "origin" ? (l: CLoc) => `${l.file}:${l.line}` : () => "",
  );
  return {
    kind: cmp.equal ? "unchanged" : "changed",
    a: { fn: x.info, inputs: tx.inputs, flagsTested: tx.flagsTested },
    b: { fn: y.info, inputs: ty.inputs, flagsTested: ty.flagsTested },
    inputs: cmp.inputs,
    groups: cmp.groups,
  };
}
