// Emit stage: policy + flag spec + tree -> the commits of a patch series, each step applied to the tree in
// memory and checked before the next: plumbing and signature steps must leave vmx_get_mt_mask() computing what
// the tree computed before; the VMX step must make it compute the policy. Nothing is written here.

import { InputError } from "../spec/errors.js";
import type { Flag } from "../spec/flags.js";
import type { Policy, Rule } from "../spec/ir.js";
import { comparePolicies, hazardText, scenarios, table } from "../spec/explain.js";
import { cubeOf, formatCube, mergeCubes } from "../spec/cubes.js";
import { describeMask, PAT_TYPES, typeName } from "../spec/memtypes.js";
import { effectiveRow } from "../spec/hazards.js";
import { checkPolicy, type Verdict } from "../checker/check.js";
import { Preprocessor } from "../checker/cpp.js";
import {
  extractWith,
  locateFunction,
  openFunction,
  DEFAULT_FUNCTION,
  type Extraction,
} from "../checker/extract.js";
import { explore, ruleMatches, type Env } from "../spec/evaluate.js";
import { tableFn, type ImportedPolicy } from "../checker/import.js";
import { parseC, syntaxErrors } from "../checker/parse.js";
import type { KernelTree } from "../checker/tree.js";
import { structuredPatch } from "diff";
import { endOfLine, insertAt, parameters, replaceRange, startOfLine } from "./locate.js";
import { wrapText } from "./cstyle.js";
import {
  apiEdit,
  callerEdit,
  capabilityEdit,
  checkFlagsEdit,
  immutableEdit,
  includeEdit,
  numbering,
  patHelperHeader,
  patHelperEdits,
  PAT_HELPER,
  selftestEdit,
  signatureEdits,
  slotHelperEdit,
  uapiEdit,
  type Edit,
  type NewParams,
} from "./plumbing.js";
import { render } from "./render.js";
import { functionView, Spellings, type Params } from "./vmx.js";
import type { Commit, FileChange } from "./patch.js";

export interface Step {
  commit: Commit;
  /** The verdict that proves the step: the tree's old behaviour, or the policy. */
  verdict: Verdict;
  against: string;
}

export interface Series {
  steps: Step[];
  policy: Policy;
  base: Policy;
  flag: Flag;
  bit: number;
  cap: number;
  cover: { subject: string; body: string };
  mode: "insert" | "rewrite";
}

class State {
  tree: KernelTree;
  changed = new Map<string, string>();
  constructor(readonly base: KernelTree) {
    this.tree = base;
  }
  apply(edits: readonly Edit[]): void {
    for (const [file, content] of edits) {
      this.changed.set(file, content);
      this.tree = this.tree.withOverlay(new Map([[file, content]]));
    }
  }
}

function verifyParse(file: string, before: string, after: string): void {
  if (!/\.(c|h)$/.test(file)) return;
  // Only the lines this step added must parse cleanly: kernel files have macro-heavy spots tree-sitter already
  // stumbles on, and those are not ours.
  const hunks = structuredPatch(file, file, before, after, "", "", { context: 0 }).hunks;
  const added: [number, number][] = hunks
    .filter((h) => h.newLines > 0)
    .map((h) => [h.newStart, h.newStart + h.newLines - 1]);
  for (const e of syntaxErrors(parseC(after).rootNode)) {
    const a = e.startPosition.row + 1;
    const b = e.endPosition.row + 1;
    if (added.some(([s, t]) => a <= t && b >= s)) {
      throw new Error(
        `internal: generated code in ${file} does not parse at line ${a} (${e.isMissing ? "MISSING " + e.type : "ERROR"})`,
      );
    }
  }
}

function check(tree: KernelTree, flag: Flag, policy: Policy): Verdict {
  const { info, interp } = openFunction(tree, DEFAULT_FUNCTION, [flag.macro]);
  return checkPolicy(interp, info, policy);
}

function mustEqual(v: Verdict, what: string): void {
  if (v.verdict === "equal") return;
  const detail =
    v.verdict === "unverifiable"
      ? v.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join("; ")
      : `${v.differing} combinations differ`;
  throw new Error(`internal: after ${what}, vmx_get_mt_mask() is ${v.verdict} (${detail})`);
}

function vmxParams(tree: KernelTree, file: string): Params {
  const loc = locateFunction(tree, DEFAULT_FUNCTION);
  const ps = parameters(loc.node).params;
  const by = (re: RegExp) => ps.find((p) => re.test(p.type))?.name;
  const isMmio = ps.find((p) => p.type === "bool")?.name;
  const vcpu = by(/kvm_vcpu/);
  const gfn = by(/^gfn_t$/);
  if (!vcpu || !gfn || !isMmio)
    throw new InputError(
      `${file}: ${DEFAULT_FUNCTION}() does not take (vcpu, gfn, is_mmio) as kspec knows it`,
    );
  return { vcpu, gfn, isMmio, slot: by(/kvm_memory_slot/), pfn: by(/^kvm_pfn_t$/) };
}

/** The contiguous block of rules the proposals of `p` added, and where it went. */
function insertedBlock(
  p: Policy,
): { rules: Rule[]; base: Rule[]; anchor: "after" | "before"; ref: Rule } | undefined {
  const proposals = new Set(p.name.split("+").slice(1));
  const idx = p.rules.map((r, i) => [r, i] as const).filter(([r]) => proposals.has(r.origin));
  if (!idx.length) return undefined;
  const first = idx[0][1];
  const last = idx[idx.length - 1][1];
  if (last - first + 1 !== idx.length) return undefined;
  const rules = idx.map(([r]) => r);
  const base = p.rules.filter((r) => !proposals.has(r.origin));
  if (first > 0) return { rules, base, anchor: "after", ref: p.rules[first - 1] };
  if (last + 1 < p.rules.length) return { rules, base, anchor: "before", ref: p.rules[last + 1] };
  return undefined;
}

/** The VMX step: the proposal's rules inserted next to the C of their anchor rule, or the whole body rewritten. */
function vmxEdit(
  tree: KernelTree,
  flag: Flag,
  policy: Policy,
  x: Extraction,
  rewrite: boolean,
): { edit: Edit; mode: "insert" | "rewrite" } {
  const loc = locateFunction(tree, DEFAULT_FUNCTION);
  const text = tree.read(loc.info.file)!;
  const s = new Spellings(tree, new Preprocessor(tree, loc.info.file), vmxParams(tree, loc.info.file), flag);
  const body = loc.node.childForFieldName("body")!;
  const block = rewrite ? undefined : insertedBlock(policy);
  if (block && x.kind === "table") {
    // Wherever the base part of the policy decides by the anchor rule, which top-level statement of the C returns?
    const c = tableFn(x.leaves);
    const lines = new Set<number>();
    for (const leaf of explore(
      (env) => [block.base.findIndex((r) => ruleMatches(r, env)), c(env).ret.line] as const,
    )) {
      if (block.base[leaf.value[0]] === block.ref) lines.add(leaf.value[1]);
    }
    const stmts = body.namedChildren.filter((st) =>
      [...lines].some((l) => st.startPosition.row + 1 <= l && l <= st.endPosition.row + 1),
    );
    if (stmts.length === 1 && stmts[0].type === "if_statement") {
      const frag = render("vmx-rules.c", functionView(policy, block.rules, s));
      const at =
        block.anchor === "after"
          ? endOfLine(text, stmts[0].endIndex)
          : startOfLine(text, stmts[0].startIndex);
      const insertion = block.anchor === "after" ? frag : frag.replace(/^\n/, "") + "\n";
      return { edit: [loc.info.file, insertAt(text, at, insertion)], mode: "insert" };
    }
  }
  const view = functionView(policy, policy.rules, s);
  return {
    edit: [
      loc.info.file,
      replaceRange(text, body.startIndex, body.endIndex, render("vmx-body.c", view).replace(/\n$/, "")),
    ],
    mode: "rewrite",
  };
}

function vmxWords(rule: Rule, flag: Flag): { subject: string; what: string; effect: string } {
  const t = rule.then.type;
  if (t.kind === "const" && typeName(t.code) === "WB" && !rule.then.ipat) {
    return {
      subject: `Honor guest PAT for ${flag.macro} memslots`,
      what: `Map memslots flagged ${flag.macro} with EPT memory type WB and the "ignore PAT" bit (IPAT) clear, so that the guest's PAT decides the effective memory type: a guest that maps the memory WC gets WC, and UC- becomes UC.`,
      effect: "honor the guest's PAT for flagged memslots",
    };
  }
  if (t.kind === "const") {
    const ty = typeName(t.code);
    return {
      subject: `Map ${flag.macro} memslots ${ty}${rule.then.ipat ? ", ignoring guest PAT" : ""}`,
      what: `Map memslots flagged ${flag.macro} with EPT memory type ${ty}${rule.then.ipat ? ` and the "ignore PAT" bit (IPAT) set, so that guest accesses are ${ty} whatever the guest's PAT says` : ", combined with the guest's PAT"}.`,
      effect: `map flagged memslots ${ty}`,
    };
  }
  return {
    subject: `Use the host memory type for ${flag.macro} memslots`,
    what: `Map each page of a memslot flagged ${flag.macro} with the memory type the host maps it with (${PAT_HELPER}()), with the "ignore PAT" bit (IPAT) set. UC-, which exists only in PAT, becomes UC.`,
    effect: "use the host's memory type for flagged memslots",
  };
}

/**
 * Where two policies differ, for a 75-column commit message: the new behaviour grouped by its outcome, then
 * what the old one did there. A row too wide for one line puts its condition on a line of its own.
 */
function changeTable(p: Policy, q: Policy, indent = "  "): string {
  const cmp = comparePolicies(p, q);
  const side = (pick: "a" | "b") => {
    const groups = new Map<number, Env[]>();
    for (const g of cmp.groups) groups.set(g[pick].mask, [...(groups.get(g[pick].mask) ?? []), ...g.paths]);
    return [...groups].flatMap(([mask, paths]) =>
      mergeCubes(paths.map(cubeOf)).map((c) => [
        formatCube(c),
        describeMask(mask).replace(/ \(0x..\)$/, ""),
        ...effectiveRow(mask).map((e) => e.type),
      ]),
    );
  };
  const block = (title: string, rows: string[][]) => {
    const wide = table(["when", "EPT", ...PAT_TYPES], rows)
      .trimEnd()
      .split("\n");
    if (wide.every((l) => indent.length + l.length <= 75)) return [title, ...wide.map((l) => indent + l)];
    const narrow = table(
      ["EPT", ...PAT_TYPES],
      rows.map((r) => r.slice(1)),
    )
      .trimEnd()
      .split("\n");
    return [
      title,
      `${indent}  ${narrow[0]}`,
      ...rows.flatMap((r, i) => [wrapText(`${r[0]}:`, 75, indent), `${indent}  ${narrow[i + 1]}`]),
    ];
  };
  return [
    ...block(`${indent.slice(2)}after:`, side("a")),
    "",
    ...block(`${indent.slice(2)}before:`, side("b")),
  ].join("\n");
}

export interface GenerateOptions {
  tree: KernelTree;
  flag: Flag;
  policy: Policy;
  /** The tree's own function as a policy (what the series starts from). */
  treeBase: ImportedPolicy;
  alternatives: Flag[];
  rewrite?: boolean;
  signed: boolean;
}

export function generate(o: GenerateOptions): Series {
  const { flag, policy, treeBase } = o;
  const st = new State(o.tree);
  const steps: Step[] = [];
  const { bit, cap } = numbering(o.tree);
  const pp = (t: KernelTree) => new Preprocessor(t, "include/uapi/linux/kvm.h");
  const incompatible = flag.incompatible.filter((f) => pp(o.tree).lookup(f).length > 0);
  const add: NewParams = { slot: "slot", ...(flag.hostMemtype ? { pfn: "pfn" } : {}) };

  const step = (subjectBody: string, build: () => void, against: Policy, what: string) => {
    const before = new Map(st.changed);
    build();
    const changes: FileChange[] = [];
    for (const [file, after] of st.changed) {
      const prev = before.get(file) ?? o.tree.read(file)!;
      if (prev === after) continue;
      verifyParse(file, prev, after);
      changes.push({ file, before: prev, after });
    }
    const v = check(st.tree, flag, against);
    mustEqual(v, what);
    const [subject, ...rest] = subjectBody.trim().split("\n");
    steps.push({
      commit: {
        subject,
        body: rest.join("\n").trim(),
        changes: changes.sort((a, b) => (a.file < b.file ? -1 : 1)),
      },
      verdict: v,
      against: against.name,
    });
  };
  const seq =
    (...fns: ((t: KernelTree) => Edit | Edit[])[]) =>
    () => {
      for (const f of fns) {
        const e = f(st.tree);
        st.apply(Array.isArray(e[0]) ? (e as Edit[]) : [e as Edit]);
      }
    };

  step(
    render("commit-flag.txt", {
      macro: flag.macro,
      bit,
      capability: flag.capability,
      cap,
      arches: flag.arches.join(", "),
      incompatible: incompatible.join(" or "),
      mutable: flag.mutable,
      helper: flag.helper,
      why: flag.why,
    }),
    seq(
      (t) => uapiEdit(t, flag),
      (t) => checkFlagsEdit(t, flag, incompatible),
      ...(flag.mutable ? [] : [(t: KernelTree) => immutableEdit(t, flag)]),
      (t) => capabilityEdit(t, flag),
      (t) => slotHelperEdit(t, flag),
      (t) => apiEdit(t, flag, bit),
    ),
    treeBase,
    "the flag patch",
  );
  if (flag.hostMemtype) {
    step(
      render("commit-pat.txt", { fn: PAT_HELPER, macro: flag.macro }),
      seq((t) => patHelperEdits(t)),
      treeBase,
      "the PAT helper patch",
    );
  }
  const fnFile = locateFunction(o.tree, DEFAULT_FUNCTION).info.file;
  step(
    render("commit-signature.txt", { pfn: !!add.pfn }),
    seq(
      (t) => signatureEdits(t, DEFAULT_FUNCTION, fnFile, add),
      (t) => callerEdit(t, add),
    ),
    treeBase,
    "the signature patch",
  );
  const x = (() => {
    const { info, interp } = openFunction(st.tree, DEFAULT_FUNCTION, [flag.macro]);
    return extractWith(interp, info);
  })();
  let mode: "insert" | "rewrite" = "rewrite";
  const block = insertedBlock(policy);
  const words = vmxWords(block?.rules[0] ?? policy.rules[0], flag);
  step(
    render("commit-vmx.txt", {
      subject: words.subject,
      what: words.what,
      table: changeTable(policy, treeBase),
      hazards: "",
      policy: policy.name,
    }),
    () => {
      let r = vmxEdit(st.tree, flag, policy, x, !!o.rewrite);
      const trial = st.tree.withOverlay(new Map([r.edit]));
      // Insertion assumes the tree computes the policy's base; if it does not, the function is rewritten whole.
      if (r.mode === "insert" && check(trial, flag, policy).verdict !== "equal")
        r = vmxEdit(st.tree, flag, policy, x, true);
      mode = r.mode;
      st.apply([r.edit]);
      // The host memory type comes from the PAT helper: the VMX code must see its declaration.
      if (flag.hostMemtype) st.apply([includeEdit(st.tree, fnFile, patHelperHeader(st.tree))]);
    },
    policy,
    "the VMX patch",
  );
  const supported = /test_invalid_memory_region_flags/.test(
    o.tree.read("tools/testing/selftests/kvm/set_memory_region_test.c") ?? "",
  );
  step(
    render("commit-selftest.txt", {
      macro: flag.macro,
      capability: flag.capability,
      mutable: flag.mutable,
      supported,
    }),
    seq((t) => selftestEdit(t, flag)),
    policy,
    "the selftest patch",
  );

  const last = steps[steps.length - 1].verdict;
  const s = scenarios(policy);
  const cover = render("cover-letter.txt", {
    title: words.subject.replace(/^./, (c) => c.toUpperCase()),
    why: flag.why,
    macro: flag.macro,
    effect: words.effect,
    summary: words.what,
    alternatives: o.alternatives
      .filter((a) => a.name !== flag.name)
      .map((a) => ({
        macro: a.macro,
        summary: `${a.summary} (kspec: --flag ${a.name}, --policy ${a.proposal})`,
      })),
    design: `This series implements ${flag.macro} (spec: kspec --flag ${flag.name}, --policy ${flag.proposal}).`,
    policy: policy.name,
    base: treeBase.name,
    table: changeTable(policy, treeBase),
    plumbingLast: steps.length - 2,
    vmxPatch: steps.length - 1,
    combinations: last.verdict === "equal" ? last.combinations : 0,
    inputs: last.inputs.join(", "),
    bit,
    cap,
    signed: o.signed,
  });
  const coverLines = cover.trim().split("\n");
  return {
    steps,
    policy,
    base: treeBase,
    flag,
    bit,
    cap,
    cover: {
      subject: coverLines[0],
      body: [
        ...coverLines.slice(1),
        "",
        hazardText(s.hazards)
          .trimEnd()
          .replace(/^hazards \(DOMAIN.md\):/, `Hazards kspec finds in ${policy.name}:`),
      ]
        .join("\n")
        .trim(),
    },
    mode,
  };
}
