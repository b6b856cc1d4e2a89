// Command stage: `kspec verify-patch` — a hand-written series applied in memory, checked step by step.

import { InputError } from "../../spec/errors.js";
import { readStdin } from "../../spec/files.js";
import { cubeToJson, formatCube } from "../../spec/cubes.js";
import { describeMask } from "../../spec/memtypes.js";
import { MAX_INPUT_BYTES } from "../../kernel/patchset.js";
import { verifyPatchInputs, type StepReport, type VerifyReport } from "../../checker/verify.js";
import type { Finding } from "../../checker/plumbing.js";
import { str, type Command } from "../command.js";
import { json } from "../io.js";
import { kernelTree } from "../kernel.js";
import { problemText } from "../../kernel/problems.js";
import { verdictJson, verdictText } from "../verdict-view.js";
import { sarifLog, verdictResults, type SarifResult } from "../sarif.js";

function exitOf(r: VerifyReport): number {
  if (r.final.verdict === "unverifiable" || r.steps.some((s) => !s.extractable)) return 2;
  return r.final.verdict === "differs" || !r.bisectable || r.incomplete.length ? 1 : 0;
}

function at(f: Finding): string {
  return f.file ? `${f.file}${f.line ? `:${f.line}` : ""}: ` : "";
}

function stepText(s: StepReport, n: number): string {
  const out = [
    `[${s.index}/${n}] ${s.patch.subject}  (${s.patch.source})`,
    `  files: ${s.changed.join(", ")}`,
  ];
  const m = s.meaning;
  if (m.kind === "unchanged") out.push(`  ${m.b.fn.name}(): meaning unchanged`);
  else if (m.kind === "unverifiable") {
    out.push(`  vmx_get_mt_mask(): cannot be extracted ${m.side === "b" ? "after" : "before"} this patch`);
    for (const p of m.problems) out.push(`    ${problemText(p)}`);
  } else {
    out.push(`  ${m.b.fn.name}(): meaning changed:`);
    for (const g of m.groups) {
      for (const c of g.when) {
        out.push(
          `    when ${formatCube(c)}: ${describeMask(g.a.mask)} (${g.a.origin.file}:${g.a.origin.line}) -> ${describeMask(g.b.mask)} (${g.b.origin.file}:${g.b.origin.line})`,
        );
      }
    }
  }
  for (const f of s.plumbing.flags) {
    const done = f.done.map((d) => d.id).join(", ");
    const pending = f.pending.map((d) => d.id).join(", ");
    out.push(`  plumbing of ${f.macro}: ${done || "nothing yet"}${pending ? `; not yet: ${pending}` : ""}`);
  }
  if (!s.extractable) out.push("  NOT CHECKED: vmx_get_mt_mask() cannot be extracted after this patch");
  if (s.bisectable && s.extractable) out.push("  consistent");
  else if (!s.bisectable) {
    out.push("  NOT BISECTABLE after this patch:");
    for (const p of s.plumbing.problems) out.push(`    ${at(p)}${p.message}`);
  }
  return out.join("\n") + "\n";
}

function reportJson(r: VerifyReport) {
  return {
    verdict: r.final.verdict,
    bisectable: r.bisectable,
    complete: r.incomplete.length === 0,
    patches: r.steps.map((s) => ({
      index: s.index,
      source: s.patch.source,
      subject: s.patch.subject,
      files: s.changed,
      meaning: {
        kind: s.meaning.kind,
        changes:
          s.meaning.kind === "unverifiable"
            ? []
            : s.meaning.groups.map((g) => ({
                when: g.when.map(cubeToJson),
                before: { mask: g.a.mask, file: g.a.origin.file, line: g.a.origin.line },
                after: { mask: g.b.mask, file: g.b.origin.file, line: g.b.origin.line },
              })),
        problems: s.meaning.kind === "unverifiable" ? s.meaning.problems : [],
      },
      plumbing: {
        flags: s.plumbing.flags,
        capabilities: s.plumbing.capabilities,
        problems: s.plumbing.problems,
      },
      bisectable: s.bisectable,
      extractable: s.extractable,
    })),
    incomplete: r.incomplete,
    final: verdictJson(r.final, r.policy),
  };
}

function sarifResults(r: VerifyReport): SarifResult[] {
  const out: SarifResult[] = [];
  for (const s of r.steps) {
    for (const p of s.plumbing.problems) {
      out.push({
        ruleId: "kspec/not-bisectable",
        level: "error",
        message: `after patch ${s.index} (${s.patch.subject}): ${p.message}`,
        file: p.file,
        line: p.line,
        base: "KERNEL",
      });
    }
    for (const g of s.meaning.kind === "unverifiable" ? [] : s.meaning.groups) {
      for (const c of g.when) {
        out.push({
          ruleId: "kspec/meaning-changed",
          level: "note",
          message: `patch ${s.index} (${s.patch.subject}) changes vmx_get_mt_mask() when ${formatCube(c)}: ${describeMask(g.a.mask)} -> ${describeMask(g.b.mask)}`,
          file: g.b.origin.file,
          line: g.b.origin.line,
          base: "KERNEL",
        });
      }
    }
  }
  for (const s of r.steps)
    for (const p of s.meaning.kind === "unverifiable" ? s.meaning.problems : [])
      out.push({
        ruleId: "kspec/unverifiable",
        level: "error",
        message: `after patch ${s.index} (${s.patch.subject}): ${problemText(p)}`,
        ...(p.file ? { file: p.file, line: p.line, base: "KERNEL" as const } : {}),
      });
  for (const f of r.incomplete)
    out.push({
      ruleId: "kspec/plumbing",
      level: "error",
      message: f.message,
      file: f.file,
      line: f.line,
      base: "KERNEL",
    });
  out.push(...verdictResults(r.final, r.policy));
  return out;
}

export const verifyPatch: Command = {
  name: "verify-patch",
  summary: "apply a patch series in memory and check every step and the end state against a policy",
  usage: "kspec verify-patch --kernel DIR --policy P [--flag F] [--json|--sarif] PATCH...",
  details: `PATCH: a git format-patch file, an mbox holding a series (the cover letter is skipped), or - for standard input.
Patches are applied in order (numbered [PATCH n/m] patches in their numbered order) to an in-memory copy of the
tree, as strictly as git apply: context must match. Binary patches, renames, copies, mode changes, symlinks
and submodules are not supported; nor is a path through a symlink that leaves the tree. Inputs larger than ${MAX_INPUT_BYTES >> 20} MiB are refused.
After each patch: the files it changes, whether vmx_get_mt_mask() changed meaning (rows before -> after), and the
memslot-flag plumbing (flag bit free, accepted by check_memory_region_flags(), capability unique and reported,
kvm_slot_*() helper, api.rst, get_mt_mask signatures agreeing); a contradiction makes the series not bisectable.
At the end: check against P (a bare proposal applies to the tree's own function), and the plumbing complete.
--flag F: the flag spec whose KVM_MEM_* bit is slotFlag (default: the built-in flags and any new KVM_MEM_* flag).
A numbered series with a hole ([PATCH 2/4] missing between 1/4 and 3/4) is refused. A step after which the
function cannot be extracted is reported as not checked.
Exit: 0 equal, bisectable and complete; 1 differs, not bisectable or incomplete; 2 unverifiable (at the end or
after any step) or bad input.`,
  options: {
    kernel: { type: "string" },
    policy: { type: "string" },
    flag: { type: "string" },
    json: { type: "boolean" },
    sarif: { type: "boolean" },
  },
  positionals: true,
  async run({ values, positionals }, io) {
    const expr = str(values, "policy");
    if (!expr) throw new InputError("verify-patch needs --policy P");
    if (!positionals.length)
      throw new InputError(
        "verify-patch needs at least one PATCH (a file, an mbox, or - for standard input)",
      );
    if (values.json && values.sarif) throw new InputError("--json and --sarif exclude each other");
    const tree = kernelTree(values);
    const r = await verifyPatchInputs(tree, positionals, () => readStdin(MAX_INPUT_BYTES), {
      policy: expr,
      flag: str(values, "flag"),
    });
    const policy = r.policy;
    const patches = r.steps.map((s) => s.patch);
    if (values.json) io.out(json(reportJson(r)));
    else if (values.sarif)
      io.out(json(sarifLog([{ kernel: str(values, "kernel"), results: sarifResults(r) }])));
    else {
      io.out(
        `verify-patch: ${patches.length} patch${patches.length === 1 ? "" : "es"} on ${tree.root}, policy ${policy.name}\n\n`,
      );
      for (const s of r.steps) io.out(stepText(s, r.steps.length) + "\n");
      io.out(`end state: ${verdictText(r.final, policy)}`);
      io.out(
        r.incomplete.length
          ? `plumbing incomplete at the end of the series:\n${r.incomplete.map((f) => `  ${at(f)}${f.message}\n`).join("")}`
          : "plumbing complete\n",
      );
      const bad = r.steps.filter((s) => !s.bisectable).map((s) => s.index);
      const unchecked = r.steps.filter((s) => !s.extractable).map((s) => s.index);
      if (bad.length) io.out(`not bisectable: patch ${bad.join(", ")}\n`);
      if (unchecked.length) io.out(`not checked (function not extractable): patch ${unchecked.join(", ")}\n`);
      if (!bad.length && !unchecked.length) io.out("every step consistent\n");
    }
    return exitOf(r);
  },
};
