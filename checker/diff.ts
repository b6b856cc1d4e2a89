// Compare stage (C vs C): the semantic difference of a function between two states of a kernel — two trees, a
// tree before and after a patch, two commits. Outcomes in one word set: unchanged, changed (with the rows, before
// -> after, grouped), or unverifiable (with the problems, on either side). Used by verify-patch, diff and log.

import { compareFns, type DiffGroup } from "../spec/compare.js";
import type { CLoc, Problem } from "../kernel/problems.js";
import type { KernelTree } from "../kernel/tree.js";
import { leafLookup, type Env } from "../spec/evaluate.js";
import { DEFAULT_FUNCTION, extract, type Extraction, type FunctionInfo } from "./extract.js";

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

export interface DiffOptions {
  function?: string;
  flagMacros: readonly string[];
  /**
   * `origin`: one group per pair of C returns (where each side decides: verify-patch shows the lines);
   * `mask`: one group per pair of masks (what changed, wherever it is decided: diff and log).
   */
  groupBy: "origin" | "mask";
  /** Only these inputs' values (log --when): rows outside them are not compared. */
  when?: Env;
}

/** What the function computes in `a` against what it computes in `b`, on every input either side reads. */
export function treeDiff(a: KernelTree, b: KernelTree, o: DiffOptions): Meaning {
  const fn = o.function ?? DEFAULT_FUNCTION;
  const opts = { function: fn, flagMacros: o.flagMacros };
  return extractionDiff(extract(a, opts), extract(b, opts), o);
}

/**
 * Two decision tables of the function compared, each replayed in the order its C read the inputs. When both
 * sides are unverifiable, the later one's problems are the news.
 */
export function extractionDiff(
  x: Extraction,
  y: Extraction,
  o: Pick<DiffOptions, "groupBy" | "when">,
): Meaning {
  for (const [side, s] of [
    ["b", y],
    ["a", x],
  ] as const) {
    if (s.kind === "unverifiable")
      return {
        kind: "unverifiable",
        side,
        fn: s.problems.some((p) => p.kind === "not-located") ? undefined : s.fn,
        problems: s.problems,
      };
  }
  if (x.kind !== "table" || y.kind !== "table") throw new Error("internal: unreachable");
  const side = (t: typeof x) => {
    const lookup = leafLookup(t.leaves);
    const fixed = o.when;
    return (env: Env) => {
      const l = lookup(fixed ? withFixed(env, fixed) : env);
      return { mask: l.mask, origin: l.ret };
    };
  };
  const cmp = compareFns(
    side(x),
    side(y),
    o.groupBy === "origin" ? (l: CLoc) => `${l.file}:${l.line}` : () => "",
  );
  return {
    kind: cmp.equal ? "unchanged" : "changed",
    a: { fn: x.fn, inputs: x.inputs, flagsTested: x.flagsTested },
    b: { fn: y.fn, inputs: y.inputs, flagsTested: y.flagsTested },
    inputs: cmp.inputs,
    groups: cmp.groups,
  };
}

/** An assignment with some inputs fixed: those are never asked for, so paths differ only in the others. */
function withFixed(env: Env, fixed: Env): Env {
  return {
    get: (k: string) => fixed.get(k) ?? env.get(k),
    has: (k: string) => fixed.has(k) || env.has(k),
  } as Env;
}
