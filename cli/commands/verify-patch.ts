// Command stage: `kspec verify-patch` — a hand-written series applied in memory, checked step by step.

import { existsSync } from "node:fs";
import { formatPatches } from "../../kernel/git.js";
import { InputError } from "../../spec/errors.js";
import { readStdin } from "../../spec/files.js";
import { cubeToJson, formatCube } from "../../spec/cubes.js";
import { describeMask } from "../../spec/memtypes.js";
import { MAX_INPUT_BYTES } from "../../kernel/patchset.js";
import { problemText } from "../../kernel/problems.js";
import { verifyPatchInputs, type StepReport, type VerifyReport } from "../../checker/verify.js";
import type { Finding, Severity } from "../../checker/plumbing.js";
import { str, type Command } from "../command.js";
import { json, paintWord, type Io } from "../io.js";
import { kernelTree } from "../kernel.js";
import { verdictJson, verdictText } from "../verdict-view.js";
import { sarifLog, verdictResults, type SarifResult } from "../sarif.js";
import type { VerifyJson } from "../json-types.js";

/** Every finding of the run with its severity: the steps' contradictions and warnings, and the end's. */
function allFindings(r: VerifyReport): Finding[] {
  return [...r.steps.flatMap((s) => [...s.plumbing.problems, ...s.warnings]), ...r.findings];
}

function count(r: VerifyReport, sev: Severity): number {
  return allFindings(r).filter((f) => f.severity === sev).length;
}

/** 0: equal and no error; 1: differs, or an error (a warning too with --strict); 2: unverifiable. */
function exitOf(r: VerifyReport, strict: boolean): number {
  if (r.final.verdict === "unverifiable" || r.steps.some((s) => !s.extractable)) return 2;
  if (r.final.verdict === "differs" || count(r, "error")) return 1;
  return strict && count(r, "warning") ? 1 : 0;
}

function at(f: { file?: string; line?: number }): string {
  return f.file ? `${f.file}${f.line ? `:${f.line}` : ""}: ` : "";
}

function findingText(f: Finding, io: Pick<Io, "paint">): string {
  return `${paintWord(io, f.severity)}: ${at(f)}${f.message} [${f.id}]`;
}

function stepText(s: StepReport, n: number, io: Pick<Io, "paint">): string {
  const out = [
    `[${s.index}/${s.patch.number?.m ?? n}] ${s.patch.subject}  (${s.patch.source})`,
    `  files: ${s.changed.join(", ")}`,
  ];
  for (const h of s.hunks)
    out.push(
      `  hunk #${h.hunk} of ${h.file} applied ${h.offset ? `at offset ${h.offset > 0 ? "+" : ""}${h.offset} line${Math.abs(h.offset) === 1 ? "" : "s"}` : ""}${h.offset && h.fuzz ? ", " : ""}${h.fuzz ? `with fuzz ${h.fuzz}` : ""}`,
    );
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
  for (const w of s.warnings) out.push(`  ${findingText(w, io)}`);
  if (!s.extractable)
    out.push(
      `  ${io.paint("unsure", "NOT CHECKED")}: vmx_get_mt_mask() cannot be extracted after this patch`,
    );
  if (s.bisectable && s.extractable) out.push("  consistent");
  else if (!s.bisectable) {
    out.push(`  ${io.paint("bad", "NOT BISECTABLE")} after this patch:`);
    for (const p of s.plumbing.problems) out.push(`    ${findingText(p, io)}`);
  }
  return out.join("\n") + "\n";
}

function reportJson(r: VerifyReport): VerifyJson {
  return {
    verdict: r.final.verdict,
    bisectable: r.bisectable,
    complete: !r.findings.some((f) => f.severity !== "note"),
    counts: { error: count(r, "error"), warning: count(r, "warning"), note: count(r, "note") },
    patches: r.steps.map((s) => ({
      index: s.index,
      source: s.patch.source,
      subject: s.patch.subject,
      version: s.patch.version,
      files: s.changed,
      hunks: s.hunks,
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
      warnings: s.warnings,
      bisectable: s.bisectable,
      extractable: s.extractable,
    })),
    findings: r.findings,
    final: verdictJson(r.final, r.policy),
  };
}

function sarifResults(r: VerifyReport): SarifResult[] {
  const out: SarifResult[] = [];
  const located = (f: { file?: string; line?: number }) =>
    f.file ? { file: f.file, line: f.line, base: "KERNEL" as const } : {};
  for (const s of r.steps) {
    for (const p of [...s.plumbing.problems, ...s.warnings])
      out.push({
        ruleId: `kspec/${p.id}`,
        level: p.severity,
        message: `after patch ${s.index} (${s.patch.subject}): ${p.message}`,
        ...located(p),
      });
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
    for (const p of s.meaning.kind === "unverifiable" ? s.meaning.problems : [])
      out.push({
        ruleId: "kspec/unverifiable",
        level: "error",
        message: `after patch ${s.index} (${s.patch.subject}): ${problemText(p)}`,
        ...(p.file ? { file: p.file, line: p.line, base: "KERNEL" as const } : {}),
      });
  }
  for (const f of r.findings)
    out.push({ ruleId: `kspec/${f.id}`, level: f.severity, message: f.message, ...located(f) });
  out.push(...verdictResults(r.final, r.policy));
  return out;
}

function number(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d+$/.test(v))
    throw new InputError(`--${name} takes a whole number, not '${String(v)}'`);
  return Number(v);
}

/** `BASE..TIP` as the one input, when --kernel is a git repository and no file has that name. */
function revisionRange(kernel: string | undefined, inputs: readonly string[]) {
  if (!kernel || inputs.length !== 1) return undefined;
  const m = /^([^.\s][^\s]*?)\.\.([^.\s][^\s]*)$/.exec(inputs[0]);
  if (!m || existsSync(inputs[0])) return undefined;
  return formatPatches(kernel, m[1], m[2]);
}

export const verifyPatch: Command = {
  name: "verify-patch",
  summary: "apply a patch series in memory and check every step and the end state against a policy",
  usage:
    "kspec verify-patch --kernel DIR --policy P [--flag F] [--strict] [--fuzz N] [--series-version N] [--json|--sarif] PATCH...",
  details: `PATCH: a git format-patch file or git format-patch --stdout, an mbox (b4's too; cover letters and replies are
skipped), a mail as a mail client or list archive saves it (.eml, maildir file; any headers, quoted-printable or
base64, CRLF), a plain diff -u or quilt patch, or - for standard input.
Patches are applied in order (numbered [PATCH n/m] patches in their numbered order) to an in-memory copy of the
tree as git am applies them: context must match; a hunk may apply at an offset (reported); --fuzz N lets a hunk
ignore up to N context lines at each end (a warning). Binary patches, renames, copies, mode changes, symlinks
and submodules are not supported; nor is a path through a symlink that leaves the tree. Inputs larger than
${MAX_INPUT_BYTES >> 20} MiB are refused. An input holding several versions of a series (v1 and v2) is refused
unless --series-version N picks one; a numbered series with a hole ([PATCH 2/4] missing) is refused.
After each patch: the files it changes, whether vmx_get_mt_mask() changed meaning (rows before -> after), and the
memslot-flag plumbing (flag bit free, accepted by check_memory_region_flags(), capability unique and reported,
kvm_slot_*() helper, api.rst, selftest, something that acts on the flag, get_mt_mask signatures agreeing).
At the end: check against P (a bare proposal applies to the tree's own function), and findings with a severity:
error (breaks the build, bisectability or the uAPI: signatures disagree, a bit reused, a flag accepted that
nothing honors, a capability reported without its flag), warning (what a reviewer asks for: api.rst, a selftest,
the flag accepted before the patch that makes it take effect), note (style: no kvm_slot_*() helper).
--flag F: the flag spec whose KVM_MEM_* bit is slotFlag (default: the built-in flags and any new KVM_MEM_* flag).
Exit: 0 equal and no error (warnings are printed); 1 differs or an error, or a warning with --strict;
2 unverifiable (at the end or after any step) or bad input.`,
  options: {
    kernel: { type: "string" },
    policy: { type: "string" },
    flag: { type: "string" },
    strict: { type: "boolean" },
    fuzz: { type: "string" },
    "series-version": { type: "string" },
    json: { type: "boolean" },
    sarif: { type: "boolean" },
  },
  optionHelp: {
    strict: "warnings fail too (exit 1)",
    fuzz: "context lines a hunk may ignore at each end (default 0, as git am)",
    "series-version": "which version of a series the input holds several of",
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
    const fuzz = number(values, "fuzz");
    const seriesVersion = number(values, "series-version");
    const strict = !!values.strict;
    // BASE..TIP with a repository for --kernel: those commits, applied to the tree at BASE.
    const range = revisionRange(str(values, "kernel"), positionals);
    const tree = range ? range.tree : kernelTree(values);
    const r = await verifyPatchInputs(
      tree,
      range ? ["-"] : positionals,
      range ? () => range.mbox : () => readStdin(MAX_INPUT_BYTES),
      {
        policy: expr,
        flag: str(values, "flag"),
        fuzz,
        seriesVersion,
        stdinName: range ? positionals[0] : undefined,
        progress: io.progress,
      },
    );
    const policy = r.policy;
    if (values.json) io.out(json(reportJson(r)));
    else if (values.sarif)
      io.out(json(sarifLog([{ kernel: str(values, "kernel"), results: sarifResults(r) }])));
    else {
      const n = r.steps.length;
      io.out(`verify-patch: ${n} patch${n === 1 ? "" : "es"} on ${tree.root}, policy ${policy.name}\n`);
      const first = r.steps[0]?.patch.number;
      if (first && first.n > 1)
        io.out(
          `patches ${first.n}-${r.steps[r.steps.length - 1].index} of ${first.m}: the tree is taken to have patch${first.n > 2 ? `es 1-${first.n - 1}` : " 1"} already\n`,
        );
      io.out("\n");
      for (const s of r.steps) io.out(stepText(s, n, io) + "\n");
      io.out(`end state: ${verdictText(r.final, policy, io)}`);
      if (r.findings.length) {
        io.out("findings at the end of the series:\n");
        for (const f of r.findings) io.out(`  ${findingText(f, io)}\n`);
      } else
        io.out(
          r.steps.some((s) => s.plumbing.flags.length)
            ? "plumbing complete\n"
            : "no memslot flag in this series: no plumbing to check\n",
        );
      const bad = r.steps.filter((s) => !s.bisectable).map((s) => s.index);
      const unchecked = r.steps.filter((s) => !s.extractable).map((s) => s.index);
      if (bad.length) io.out(`not bisectable: patch ${bad.join(", ")}\n`);
      if (unchecked.length) io.out(`not checked (function not extractable): patch ${unchecked.join(", ")}\n`);
      if (!bad.length && !unchecked.length) io.out("every step consistent\n");
      const [e, w, nt] = (["error", "warning", "note"] as const).map((sev) => count(r, sev));
      if (e || w || nt)
        io.out(
          `${e} error${e === 1 ? "" : "s"}, ${w} warning${w === 1 ? "" : "s"}, ${nt} note${nt === 1 ? "" : "s"}${w && !strict ? " (--strict makes warnings fail)" : ""}\n`,
        );
    }
    return exitOf(r, strict);
  },
};
