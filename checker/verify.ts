// Verify stage: a patch series applied step by step to a tree's overlay — after each patch, what changed, whether
// the function changed meaning (the rows, before -> after) and whether the memslot-flag plumbing is consistent;
// at the end, the check against the policy and the findings a reviewer would make, each with its severity. The
// series is applied once; the flags it introduces are found on the way and stand for slotFlag with the built-in
// ones. The tree on disk is never written.

import { loadPart, resolvePolicy, splitExpression } from "../spec/resolve.js";
import type { Policy } from "../spec/ir.js";
import { applyTo, readSeries, type HunkNote, type Patch } from "../kernel/patchset.js";
import type { KernelTree } from "../kernel/tree.js";
import { slotFlagMacros } from "./binding.js";
import { checkTree, type Verdict } from "./check.js";
import { treeDiff, type Meaning } from "./diff.js";
import { importTree } from "./import.js";
import { endFindings, finding, plumbing, type Finding, type PlumbingReport } from "./plumbing.js";

export interface StepReport {
  index: number;
  patch: Patch;
  changed: string[];
  /** Hunks that applied at an offset or with fuzz. */
  hunks: HunkNote[];
  meaning: Meaning;
  plumbing: PlumbingReport;
  /** Warnings of this step (a hunk applied with fuzz). */
  warnings: Finding[];
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
  /** What the end of the series leaves for a reviewer, with severities (errors, warnings, notes). */
  findings: Finding[];
  bisectable: boolean;
}

export interface VerifyOptions {
  /** A flag spec whose macro alone stands for slotFlag; otherwise the built-in flags and the series' own. */
  flag?: string;
  /** A policy expression; a bare proposal applies to the base tree's own function. */
  policy: string;
  function?: string;
  /** Context lines a hunk may ignore at each end (0, as git am). */
  fuzz?: number;
  /** Which version of a series the input holds several of. */
  seriesVersion?: number;
  /** Told the step about to run, for a progress display (a long series, a long history). */
  progress?: (step: string) => void;
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
    hunks: HunkNote[];
  }[] = [];
  let tree = base;
  const touched = new Set<string>();
  for (const [i, p] of patches.entries()) {
    o.progress?.(`applying ${i + 1}/${patches.length}: ${p.subject}`);
    const applied = applyTo(tree, p, o.fuzz ?? 0);
    applied.changed.forEach((f) => touched.add(f));
    states.push({
      patch: p,
      before: tree,
      after: applied.tree,
      changed: applied.changed,
      touched: [...touched],
      hunks: applied.notes,
    });
    tree = applied.tree;
  }
  const introduced = plumbing(tree, base).flags.map((f) => f.macro);
  const flagMacros = await slotFlagMacros({ flag: o.flag, introduced });
  const policy = await resolvePolicy(o.policy, async () => importTree(base, flagMacros, o.function));
  const steps: StepReport[] = states.map((s, i) => {
    o.progress?.(`checking ${i + 1}/${states.length}: ${s.patch.subject}`);
    const meaning = treeDiff(s.before, s.after, { function: o.function, flagMacros, groupBy: "origin" });
    const pl = plumbing(s.after, base, {
      files: s.touched,
      flagsTested: meaning.kind === "unverifiable" ? [] : meaning.b.flagsTested,
    });
    const warnings = s.hunks
      .filter((h) => h.fuzz > 0)
      .map((h) =>
        finding(
          "hunk-fuzz",
          `hunk #${h.hunk} applied with fuzz ${h.fuzz} (${h.fuzz} context line${h.fuzz === 1 ? "" : "s"} ignored at each end)`,
          {
            file: h.file,
          },
        ),
      );
    return {
      // A numbered patch keeps its own number (a part of a series, 2/4..4/4, is not renumbered 1/3..3/3).
      index: s.patch.number?.n ?? i + 1,
      patch: s.patch,
      changed: s.changed,
      hunks: s.hunks,
      meaning,
      plumbing: pl,
      warnings,
      bisectable: pl.problems.length === 0,
      extractable: meaning.kind !== "unverifiable",
    };
  });
  o.progress?.(`checking the end state against ${policy.name}`);
  const final = checkTree(tree, policy, { function: o.function, flagMacros });
  const last = steps[steps.length - 1]?.plumbing;
  // Errors first, then warnings, then notes: what fails the series leads.
  const rank = { error: 0, warning: 1, note: 2 };
  const findings = [
    ...(last ? [...endFindings(last), ...acceptedEarly(steps)] : []),
    ...(await baseDiffers(base, o, flagMacros)),
  ].sort((a, b) => rank[a.severity] - rank[b.severity]);
  return { steps, final, policy, flagMacros, findings, bisectable: steps.every((s) => s.bisectable) };
}

/**
 * BASE+PROPOSAL where the tree before the series does not compute BASE: the differences at the end are then
 * partly the base's, and a reviewer should know before reading them as the series' doing.
 */
async function baseDiffers(base: KernelTree, o: VerifyOptions, flagMacros: string[]): Promise<Finding[]> {
  const tokens = splitExpression(o.policy);
  if (tokens.length < 2) return [];
  const first = await loadPart(tokens[0]);
  if (first.kind !== "policy") return [];
  const v = checkTree(base, first.policy, { function: o.function, flagMacros });
  if (v.verdict !== "differs") return [];
  return [
    finding(
      "base-differs",
      `the tree before the series already differs from ${first.policy.name} (${v.differing} of ${v.combinations} combinations): differences at the end may be the base's, not the series'`,
      {},
    ),
  ];
}

/** A flag accepted (usable from userspace) in a patch before the one that makes it take effect. */
function acceptedEarly(steps: readonly StepReport[]): Finding[] {
  const out: Finding[] = [];
  const first = (macro: string, item: string) =>
    steps.find((s) => s.plumbing.flags.some((f) => f.macro === macro && f.done.some((d) => d.id === item)));
  for (const f of steps[steps.length - 1].plumbing.flags) {
    const accepted = first(f.macro, "accepted");
    const honored = first(f.macro, "honored");
    if (accepted && honored && accepted.index < honored.index) {
      const at = accepted.plumbing.flags
        .find((x) => x.macro === f.macro)!
        .done.find((d) => d.id === "accepted")!;
      out.push(
        finding(
          "accepted-early",
          `patch ${accepted.index} makes check_memory_region_flags() accept ${f.macro}, but it takes effect only in patch ${honored.index}: in between, userspace can set a flag KVM ignores`,
          { file: at.file, line: at.line },
        ),
      );
    }
  }
  return out;
}

/** Patch inputs (files, mboxes, "-" for standard input) read as one series, then verified: `kspec verify-patch`. */
export async function verifyPatchInputs(
  base: KernelTree,
  inputs: readonly string[],
  stdin: () => Buffer,
  o: VerifyOptions & { stdinName?: string },
): Promise<VerifyReport> {
  return verifyPatches(base, await readSeries(inputs, stdin, o.seriesVersion, o.stdinName), o);
}
