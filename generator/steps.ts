// Emit stage (steps): the step engine of a series — edits applied to an in-memory state of the tree, the lines
// each step added re-parsed, and the step checked against what it must compute before the next one starts.
// Nothing is written here.

import { structuredPatch } from "diff";
import { topLevelBodies } from "../kernel/locate.js";
import { parseC, parseRange, syntaxErrors, type SyntaxNode } from "../kernel/parse.js";
import type { KernelTree } from "../kernel/tree.js";
import type { Policy } from "../spec/ir.js";
import { checkTree, type Verdict } from "../checker/step.js";
import type { Commit, FileChange } from "./patch.js";

export type Edit = [file: string, content: string];

export interface Step {
  commit: Commit;
  /** The verdict that proves the step: the tree's old behaviour, or the policy. */
  verdict: Extract<Verdict, { verdict: "equal" }>;
  against: string;
}

/** The line of a step's added text that does not parse: kspec emitted C that is not C. */
function verifyParse(file: string, before: string, after: string): void {
  if (!/\.(c|h)$/.test(file)) return;
  // Only the lines this step added must parse cleanly: kernel files have macro-heavy spots tree-sitter already
  // stumbles on, and those are not ours.
  const added = addedLines(before, after);
  if (!added.length) return;
  const bad = (roots: SyntaxNode[]) =>
    roots
      .flatMap((r) => syntaxErrors(r))
      .find((e) => {
        const a = e.startPosition.row + 1;
        const b = e.endPosition.row + 1;
        return added.some(([s, t]) => a <= t && b >= s);
      });
  // The functions around the added lines are parsed alone where the brace scan is sure of them; an error found
  // that way is confirmed on the whole file (a range can lack context the file has).
  const items = itemsAround(after, added);
  const whole = () => bad([parseC(after).rootNode]);
  const e = items ? bad(items.map(([s, t]) => parseRange(after, s, t).rootNode)) && whole() : whole();
  if (e) {
    throw new Error(
      `internal: generated code in ${file} does not parse at line ${e.startPosition.row + 1} (${e.isMissing ? "MISSING " + e.type : "ERROR"})`,
    );
  }
}

/** Lines (1-based, inclusive ranges) of `after` that are not in `before`, diffed between their common ends. */
function addedLines(before: string, after: string): [number, number][] {
  const a = before.split("\n");
  const b = after.split("\n");
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let q = 0;
  while (q < a.length - p && q < b.length - p && a[a.length - 1 - q] === b[b.length - 1 - q]) q++;
  const mid = (x: string[]) => x.slice(p, x.length - q).join("\n") + "\n";
  return structuredPatch("a", "b", mid(a), mid(b), "", "", { context: 0 })
    .hunks.filter((h) => h.newLines > 0)
    .map((h) => [p + h.newStart, p + h.newStart + h.newLines - 1]);
}

/**
 * The string ranges to parse for the added lines: the top-level item holding them, or else the stretch between
 * the items before and after them (defines, prototypes, declarations); undefined when the brace scan is unsure.
 */
function itemsAround(text: string, added: [number, number][]): [number, number][] | undefined {
  const items = topLevelBodies(text);
  if (!items.balanced) return undefined;
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  const out = new Map<number, [number, number]>();
  for (const [s, t] of added) {
    const from = starts[s - 1];
    const to = (starts[t] ?? text.length + 1) - 1;
    const it = items.find((x) => x.head <= from && to <= x.close + 1);
    if (it) out.set(it.head, [it.head, it.close + 1]);
    else {
      // Whole items around the lines, from the end of the last one before them to the head of the first after.
      const start = items.filter((x) => x.close < from).reduce((m, x) => Math.max(m, x.close + 1), 0);
      const end = items.filter((x) => x.head > to).reduce((m, x) => Math.min(m, x.head), text.length);
      out.set(start, [start, end]);
    }
  }
  return [...out.values()];
}

/** The series under construction: the tree as the steps so far left it, and the steps. */
export class SeriesState {
  tree: KernelTree;
  private readonly changed = new Map<string, string>();
  readonly steps: Step[] = [];

  constructor(
    readonly base: KernelTree,
    readonly flagMacros: readonly string[],
    private readonly progress?: (step: string) => void,
  ) {
    this.tree = base;
  }

  apply(edits: readonly Edit[]): void {
    for (const [file, content] of edits) {
      this.changed.set(file, content);
      this.tree = this.tree.withOverlay(new Map([[file, content]]));
    }
  }

  /** The tree's function against a policy; anything but equal means kspec emitted a wrong step. */
  mustEqual(policy: Policy, what: string): Extract<Verdict, { verdict: "equal" }> {
    const v = checkTree(this.tree, policy, { flagMacros: this.flagMacros });
    if (v.verdict === "equal") return v;
    const detail =
      v.verdict === "unverifiable"
        ? v.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join("; ")
        : `${v.differing} combinations differ`;
    throw new Error(`internal: after ${what}, ${v.fn.name}() is ${v.verdict} (${detail})`);
  }

  /** One commit: `build` edits the state; its added lines must parse and the function must compute `against`. */
  step(message: string, build: () => void, against: Policy, what: string): void {
    this.progress?.(`patch ${this.steps.length + 1}: ${message.trim().split("\n")[0]}`);
    const before = new Map(this.changed);
    build();
    const changes: FileChange[] = [];
    for (const [file, after] of this.changed) {
      const prev = before.get(file) ?? this.base.read(file)!;
      if (prev === after) continue;
      verifyParse(file, prev, after);
      changes.push({ file, before: prev, after });
    }
    const verdict = this.mustEqual(against, what);
    const [subject, ...rest] = message.trim().split("\n");
    this.steps.push({
      commit: {
        subject,
        body: rest.join("\n").trim(),
        changes: changes.sort((a, b) => (a.file < b.file ? -1 : 1)),
      },
      verdict,
      against: against.name,
    });
  }

  /** Edits computed from the state in order, each seeing what the previous one did. */
  edits(...fns: ((t: KernelTree) => Edit | Edit[])[]): () => void {
    return () => {
      for (const f of fns) {
        const e = f(this.tree);
        this.apply(Array.isArray(e[0]) ? (e as Edit[]) : [e as Edit]);
      }
    };
  }
}
