// Evidence stage: mutation testing of the checker against an oracle that is not kspec. Every single-point mutant
// of a Debian tree's vmx_get_mt_mask() (and the static helpers it calls) is checked by kspec against the tree's
// own policy, and compiled by gcc into a harness that enumerates every input with stub predicates. The gcc table
// decides which mutants change the meaning; kspec must report exactly those as differing, and its extracted
// table must agree with gcc's row by row.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkFunction } from "../checker/check.js";
import { Preprocessor } from "../kernel/cpp.js";
import { extractWith } from "../checker/extract.js";
import { locateFunction } from "../kernel/locate.js";
import { Interpreter } from "../checker/interp.js";
import { hasStorageClass, parseC, type SyntaxNode } from "../kernel/parse.js";
import { findFunctions } from "../kernel/locate.js";
import { KernelTree } from "../kernel/tree.js";
import { expand } from "../spec/evaluate.js";
import { resolvePolicy } from "../spec/resolve.js";
import { ROOT } from "../spec/root.js";

export const ORACLE_INPUTS = [
  "isMmio",
  "noncoherentDma",
  "cr0Cd",
  "quirkCdNwCleared",
  "quirkIgnoreGuestPat",
  "guestMtrr",
];

// The harness: the kernel's constants with the values of the SDM and the uapi headers, written down here, and
// stub predicates that read the inputs. Nothing of kspec's own model is used.
const HARNESS_HEAD = `#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int8_t s8; typedef int16_t s16; typedef int32_t s32; typedef int64_t s64;
typedef u64 gfn_t; typedef u64 kvm_pfn_t;
#define MTRR_TYPE_UNCACHABLE 0
#define MTRR_TYPE_WRCOMB 1
#define MTRR_TYPE_WRTHROUGH 4
#define MTRR_TYPE_WRPROT 5
#define MTRR_TYPE_WRBACK 6
#define VMX_EPT_MT_EPTE_SHIFT 3
#define VMX_EPT_IPAT_BIT (1ull << 6)
#define X86_CR0_CD (1UL << 30)
#define KVM_X86_QUIRK_CD_NW_CLEARED (1 << 1)
#define KVM_X86_QUIRK_IGNORE_GUEST_PAT (1 << 9)
struct kvm { int unused; };
struct kvm_vcpu { struct kvm *kvm; };
static int in_noncoherentDma, in_cr0Cd, in_quirkCdNwCleared, in_quirkIgnoreGuestPat, in_guestMtrr;
static bool kvm_arch_has_noncoherent_dma(struct kvm *kvm) { (void)kvm; return in_noncoherentDma; }
static bool kvm_check_has_quirk(struct kvm *kvm, u64 quirk)
{
	(void)kvm;
	if (quirk == KVM_X86_QUIRK_CD_NW_CLEARED) return in_quirkCdNwCleared;
	if (quirk == KVM_X86_QUIRK_IGNORE_GUEST_PAT) return in_quirkIgnoreGuestPat;
	abort();
}
static unsigned long kvm_read_cr0_bits(struct kvm_vcpu *v, unsigned long mask) { (void)v; return in_cr0Cd ? (mask & X86_CR0_CD) : 0; }
static unsigned long kvm_read_cr0(struct kvm_vcpu *v) { (void)v; return in_cr0Cd ? X86_CR0_CD : 0; }
#define BIT_ULL(nr) (1ULL << (nr))
static u8 kvm_mtrr_get_guest_memory_type(struct kvm_vcpu *v, gfn_t gfn)
{
	static const u8 codes[] = { 0, 1, 4, 5, 6 };
	(void)v; (void)gfn;
	return codes[in_guestMtrr];
}
`;

const HARNESS_MAIN = `
int main(void)
{
	struct kvm k;
	struct kvm_vcpu v = { &k };
	for (int m = 0; m < 2; m++)
	for (in_noncoherentDma = 0; in_noncoherentDma < 2; in_noncoherentDma++)
	for (in_cr0Cd = 0; in_cr0Cd < 2; in_cr0Cd++)
	for (in_quirkCdNwCleared = 0; in_quirkCdNwCleared < 2; in_quirkCdNwCleared++)
	for (in_quirkIgnoreGuestPat = 0; in_quirkIgnoreGuestPat < 2; in_quirkIgnoreGuestPat++)
	for (in_guestMtrr = 0; in_guestMtrr < 5; in_guestMtrr++)
		printf("%u\\n", (unsigned)vmx_get_mt_mask(&v, 0, m));
	return 0;
}
`;

/**
 * tree-sitter trees hold native memory V8 does not see, so a run that parses thousands of versions of vmx.c
 * must collect garbage itself (node --expose-gc, as npm run mutate/fuzz and the tests start it) or it grows to
 * gigabytes.
 */
export function collectGarbage(n: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc && n % 16 === 0) gc();
}

export interface Mutant {
  id: number;
  op: string;
  line: number;
  text: string;
}

/**
 * The function and the static helpers of its file that it calls, alone: what mutants and fuzz cases are made of.
 * Working on this instead of the whole vmx.c keeps each parse small — the tree-sitter binding never returns a
 * tree's native memory, so thousands of parses of a 250 KB file would exhaust the machine.
 */
export function compactUnit(text: string, name = "vmx_get_mt_mask"): string {
  return (
    unit(text, name)
      .map((n) => n.text)
      .join("\n\n") + "\n"
  );
}

/** The function and the static helpers of its file that it calls (transitively), as nodes of the file. */
function unit(text: string, name: string): SyntaxNode[] {
  const root = parseC(text).rootNode;
  const out: SyntaxNode[] = [];
  const seen = new Set<string>();
  const visit = (fn: string) => {
    if (seen.has(fn)) return;
    seen.add(fn);
    const def = findFunctions(root, fn).find((d) => fn === name || hasStorageClass(d, "static"));
    if (!def) return;
    out.push(def);
    const walk = (n: SyntaxNode) => {
      const callee = n.type === "call_expression" ? n.childForFieldName("function") : null;
      if (callee) visit(callee.text);
      n.namedChildren.forEach(walk);
    };
    const body = def.childForFieldName("body");
    if (body) walk(body);
  };
  visit(name);
  return out.sort((a, b) => a.startIndex - b.startIndex);
}

const CLASSES = [
  ["&&", "||"],
  ["&", "|", "^"],
  ["<<", ">>"],
  ["==", "!=", "<", ">", "<=", ">="],
  ["+", "-"],
];
const TYPES = [
  "MTRR_TYPE_UNCACHABLE",
  "MTRR_TYPE_WRCOMB",
  "MTRR_TYPE_WRTHROUGH",
  "MTRR_TYPE_WRPROT",
  "MTRR_TYPE_WRBACK",
];

const QUIRKS = ["KVM_X86_QUIRK_CD_NW_CLEARED", "KVM_X86_QUIRK_IGNORE_GUEST_PAT"];

/** Every single-point mutant of the function (and its helpers) in `text`; `defined` says which macros the tree has. */
export function mutants(
  text: string,
  name = "vmx_get_mt_mask",
  defined: (macro: string) => boolean = () => true,
): Mutant[] {
  const out: Mutant[] = [];
  const add = (op: string, at: SyntaxNode, start: number, end: number, repl: string) =>
    out.push({
      id: out.length,
      op,
      line: at.startPosition.row + 1,
      text: text.slice(0, start) + repl + text.slice(end),
    });
  for (const fn of unit(text, name)) {
    const body = fn.childForFieldName("body");
    if (!body) continue;
    const walk = (n: SyntaxNode) => {
      // Fields can be missing where tree-sitter recovered from an error (the fuzzer mutates broken code too).
      const op = n.childForFieldName("operator");
      if (n.type === "binary_expression" && op) {
        for (const alt of CLASSES.find((c) => c.includes(op.text)) ?? []) {
          if (alt !== op.text) add(`operator ${op.text} -> ${alt}`, n, op.startIndex, op.endIndex, alt);
        }
      }
      const arg = n.childForFieldName("argument");
      if (n.type === "unary_expression" && op?.text === "!" && arg) {
        add("! removed", n, n.startIndex, n.endIndex, arg.text);
      }
      const c = n.childForFieldName("condition");
      if (n.type === "if_statement" && c) {
        add("condition negated", n, c.startIndex, c.endIndex, `(!${c.text})`);
        const alt = n.childForFieldName("alternative");
        const cons = n.childForFieldName("consequence");
        const altStmt = alt?.namedChildren.find((x) => x.type !== "comment");
        if (altStmt && cons) {
          const swapped =
            text.slice(n.startIndex, cons.startIndex) +
            altStmt.text +
            text.slice(cons.endIndex, altStmt.startIndex) +
            cons.text;
          add("branches swapped", n, n.startIndex, altStmt.endIndex, swapped);
        }
      }
      const [ta, tb] = [n.childForFieldName("consequence"), n.childForFieldName("alternative")];
      if (n.type === "conditional_expression" && c && ta && tb) {
        add("ternary swapped", n, n.startIndex, n.endIndex, `${c.text} ? ${tb.text} : ${ta.text}`);
      }
      if (n.type === "identifier" && TYPES.includes(n.text)) {
        for (const t of TYPES) if (t !== n.text) add(`${n.text} -> ${t}`, n, n.startIndex, n.endIndex, t);
      }
      if (n.type === "identifier" && QUIRKS.includes(n.text)) {
        for (const q of QUIRKS)
          if (q !== n.text && defined(q)) add(`${n.text} -> ${q}`, n, n.startIndex, n.endIndex, q);
      }
      if (n.type === "return_statement") {
        const e = n.namedChildren.find((x) => x.type !== "comment");
        if (e) {
          add("return deleted", n, n.startIndex, n.endIndex, ";");
          if (e.text.includes("VMX_EPT_IPAT_BIT")) {
            add(
              "IPAT removed",
              n,
              e.startIndex,
              e.endIndex,
              `(${e.text.replace(/\s*\|\s*VMX_EPT_IPAT_BIT\b/, "")})`,
            );
          } else {
            add("IPAT added", n, e.startIndex, e.endIndex, `(${e.text}) | VMX_EPT_IPAT_BIT`);
          }
        }
      }
      n.namedChildren.forEach(walk);
    };
    walk(body);
    // An early return moved: each top-level statement swapped with the next one.
    const stmts = body.namedChildren.filter((s) => s.type !== "comment");
    for (let i = 0; i + 1 < stmts.length; i++) {
      const [a, b] = [stmts[i], stmts[i + 1]];
      if (a.type !== "if_statement" && b.type !== "if_statement") continue;
      add(
        "statements swapped",
        a,
        a.startIndex,
        b.endIndex,
        b.text + text.slice(a.endIndex, b.startIndex) + a.text,
      );
    }
  }
  return out;
}

/** gcc's table of the function in `text` over ORACLE_INPUTS, or null when it does not compile (or run). */
export function oracle(text: string, work: string, name = "vmx_get_mt_mask"): number[] | null {
  const fns = unit(text, name).map((n) => n.text);
  const src = join(work, "oracle.c");
  const bin = join(work, "oracle");
  writeFileSync(src, HARNESS_HEAD + fns.join("\n\n") + "\n" + HARNESS_MAIN);
  const cc = spawnSync(
    "gcc",
    ["-std=gnu11", "-O0", "-Werror=return-type", "-Werror=implicit-function-declaration", "-o", bin, src],
    { encoding: "utf8" },
  );
  if (cc.status !== 0) return null;
  const run = spawnSync(bin, { encoding: "utf8", timeout: 10_000 });
  if (run.status !== 0) return null;
  return run.stdout.trim().split("\n").map(Number);
}

export interface MutationReport {
  tree: string;
  policy: string;
  generated: number;
  compilable: number;
  semantic: number;
  semanticCaught: number;
  equivalent: number;
  equivalentEqual: number;
  /** Mutants kspec reported unverifiable (never equal), by what gcc says of them. */
  unverifiableSemantic: number;
  unverifiableEquivalent: number;
  disagreements: { id: number; op: string; line: number; why: string }[];
}

export async function mutationRun(treeDir: string, policyName: string, every = 1): Promise<MutationReport> {
  const base = new KernelTree(treeDir);
  const loc = locateFunction(base, "vmx_get_mt_mask");
  const src = compactUnit(base.read(loc.info.file)!);
  const pp = new Preprocessor(base, loc.info.file);
  const policy = await resolvePolicy(policyName);
  const work = mkdtempSync(join(tmpdir(), "kspec-mutate-"));
  const r: MutationReport = {
    tree: treeDir,
    policy: policyName,
    generated: 0,
    compilable: 0,
    semantic: 0,
    semanticCaught: 0,
    equivalent: 0,
    equivalentEqual: 0,
    unverifiableSemantic: 0,
    unverifiableEquivalent: 0,
    disagreements: [],
  };
  try {
    const original = oracle(src, work);
    if (!original) throw new Error("the unmutated function does not compile in the oracle harness");
    const all = mutants(src, "vmx_get_mt_mask", (m) => pp.lookup(m).length > 0).filter(
      (m) => m.id % every === 0,
    );
    r.generated = all.length;
    for (const [n, m] of all.entries()) {
      collectGarbage(n);
      const table = oracle(m.text, work);
      if (!table) continue;
      r.compilable++;
      const semantic = table.some((v, i) => v !== original[i]);
      const tree = base.withOverlay(new Map([[loc.info.file, m.text]]));
      const located = locateFunction(tree, "vmx_get_mt_mask");
      const interp = new Interpreter(tree, pp, located, { flagMacros: [] });
      const v = checkFunction(interp, { ...loc.info }, policy);
      if (semantic) r.semantic++;
      else r.equivalent++;
      const disagree = (why: string) => r.disagreements.push({ id: m.id, op: m.op, line: m.line, why });
      if (v.verdict === "unverifiable") {
        if (semantic) r.unverifiableSemantic++;
        else r.unverifiableEquivalent++;
        continue;
      }
      if (semantic && v.verdict === "differs") r.semanticCaught++;
      if (!semantic && v.verdict === "equal") r.equivalentEqual++;
      if (semantic && v.verdict === "equal") disagree("gcc says the meaning changed, kspec says equal");
      if (!semantic && v.verdict === "differs")
        disagree("gcc says the meaning is the same, kspec says differs");
      // Row by row: kspec's extracted table against gcc's.
      const x = extractWith(new Interpreter(tree, pp, located, { flagMacros: [] }), loc.info);
      if (x.kind !== "table") continue;
      let i = 0;
      const rows = expand(new Map(), ORACLE_INPUTS);
      for (const row of rows) {
        const leaf = x.leaves.find((l) => [...l.env].every(([k, val]) => row.get(k) === val));
        if (!leaf || leaf.mask !== table[i]) {
          disagree(`row ${JSON.stringify(Object.fromEntries(row))}: kspec ${leaf?.mask}, gcc ${table[i]}`);
          break;
        }
        i++;
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return r;
}

export function describeRun(r: MutationReport): string {
  const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)}%` : "n/a");
  return [
    `${r.tree} against ${r.policy}:`,
    `  mutants generated                       ${r.generated}`,
    `  compiled by gcc (the oracle)            ${r.compilable}`,
    `  semantic (gcc's table changed)          ${r.semantic}`,
    `    reported as differs by kspec          ${r.semanticCaught} (${pct(r.semanticCaught, r.semantic)})`,
    `    reported as unverifiable              ${r.unverifiableSemantic}`,
    `  equivalent (gcc's table unchanged)      ${r.equivalent}`,
    `    reported as equal by kspec            ${r.equivalentEqual}`,
    `    reported as unverifiable              ${r.unverifiableEquivalent}`,
    `  disagreements with the oracle           ${r.disagreements.length}`,
    ...r.disagreements.map((d) => `    #${d.id} line ${d.line} ${d.op}: ${d.why}`),
  ].join("\n");
}

// `npm run mutate`: both Debian trees, every mutant.
if (process.argv[1]?.endsWith("mutate.js")) {
  const trees = execFileSync("bash", [join(ROOT, "scripts", "kernel-trees.sh")], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.split(" "));
  let bad = 0;
  for (const [v, dir] of trees) {
    const r = await mutationRun(dir, `linux-${v}`);
    console.log(describeRun(r) + "\n");
    if (r.disagreements.length || r.semanticCaught < r.semantic) bad++;
  }
  process.exitCode = bad ? 1 : 0;
}
