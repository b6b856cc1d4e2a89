// Plumbing stage: is a memslot flag wired through KVM consistently in a tree state? Each site is found through
// kernel/kvm-sites: the uapi define and its bit, check_memory_region_flags(), the capability and its report, the
// kvm_slot_*() helper, api.rst, and whether every get_mt_mask declaration, definition and call agree.

import { Preprocessor } from "../kernel/cpp.js";
import { mentions, nodeAt, visibleName } from "../kernel/locate.js";
import { declaredName, functionDeclarator, lineOf, type SyntaxNode } from "../kernel/parse.js";
import {
  apiMention,
  capabilityReport,
  CAP_PREFIX,
  flagAccepted,
  flagBit,
  FLAG_PREFIX,
  mtMaskMember,
  mtMaskSites,
  SITE_FUNCTIONS,
  SITES,
  SLOT_HELPER,
  slotHelperFor,
  uapiDefines,
} from "../kernel/kvm-sites.js";
import type { KernelTree } from "../kernel/tree.js";

export type Severity = "error" | "warning" | "note";

/**
 * What kspec finds in a series' memslot-flag plumbing, with a stable id and a severity calibrated on how upstream
 * added KVM_MEM_READONLY, KVM_MEM_LOG_DIRTY_PAGES and KVM_MEM_GUEST_MEMFD: an error breaks the build,
 * bisectability or the uAPI contract; a warning is what a reviewer would ask for; a note is style. A test proves
 * that every kind has a fixture that produces it.
 */
export const FINDING_KINDS = {
  // A state no commit may leave: each one fails the series.
  "signature-mismatch": {
    severity: "error",
    about:
      "a prototype, definition or call of get_mt_mask disagrees with the kvm_x86_ops member: the build breaks",
  },
  "flag-not-a-bit": { severity: "error", about: "a memslot flag whose value is not a single bit" },
  "flag-collision": { severity: "error", about: "a memslot flag reuses a bit another flag has" },
  "capability-collision": { severity: "error", about: "a capability reuses a number another capability has" },
  "capability-without-flag": {
    severity: "error",
    about: "a capability is reported while its flag is not accepted",
  },
  "undefined-helper": {
    severity: "error",
    about: "a kvm_slot_*() helper is used before it is defined: the build breaks",
  },
  "undefined-constant": {
    severity: "error",
    about: "a KVM_MEM_* or KVM_CAP_* constant is used before it is defined: the build breaks",
  },
  // The end of the series.
  "not-accepted": {
    severity: "error",
    about: "the flag is defined, but check_memory_region_flags() rejects it: userspace cannot use it",
  },
  "not-honored": { severity: "error", about: "the flag is accepted, but nothing in the tree acts on it" },
  "no-capability": { severity: "warning", about: "no new capability advertises the flag" },
  "capability-not-reported": {
    severity: "warning",
    about: "a new capability is defined but KVM_CHECK_EXTENSION does not report it",
  },
  "not-documented": {
    severity: "warning",
    about: "Documentation/virt/kvm/api.rst does not mention the new flag",
  },
  "no-selftest": { severity: "warning", about: "no KVM selftest mentions the new flag" },
  "accepted-early": {
    severity: "warning",
    about: "the flag is accepted in an earlier patch than the one that makes it take effect",
  },
  "hunk-fuzz": { severity: "warning", about: "a hunk applied only with context lines ignored (--fuzz)" },
  "no-helper": { severity: "note", about: "no kvm_slot_*() helper tests the flag: it is tested inline" },
  "base-differs": {
    severity: "note",
    about: "the tree before the series does not compute the BASE of a BASE+PROPOSAL policy",
  },
} as const satisfies Record<string, { severity: Severity; about: string }>;

export type FindingKind = keyof typeof FINDING_KINDS;

export interface Finding {
  id: FindingKind;
  severity: Severity;
  message: string;
  file?: string;
  line?: number;
}

export function finding(
  id: FindingKind,
  message: string,
  at: { file?: string; line?: number } = {},
): Finding {
  return { id, severity: FINDING_KINDS[id].severity, message, ...at };
}

/** What a complete plumbing of a flag has, item by item (done or still to do in a state of the series). */
export type StatusItem =
  "defined" | "accepted" | "capability" | "helper" | "documented" | "selftest" | "honored";

export interface StatusEntry {
  id: StatusItem;
  message: string;
  file?: string;
  line?: number;
}

export interface FlagStatus {
  macro: string;
  bit?: number;
  done: StatusEntry[];
  pending: StatusEntry[];
}

export interface PlumbingReport {
  flags: FlagStatus[];
  capabilities: string[];
  /** Contradictions (errors): a state no commit of a bisectable series may leave. */
  problems: Finding[];
}

/** Parameter types without their names, spaced alike: "const struct kvm_memory_slot *". */
function paramTypes(fd: SyntaxNode): string[] {
  const list = fd.childForFieldName("parameters");
  return (list?.namedChildren ?? [])
    .filter((p) => p.type === "parameter_declaration")
    .map((p) => {
      let d = p.childForFieldName("declarator");
      while (d && d.type !== "identifier") d = d.childForFieldName("declarator");
      const text = d
        ? p.text.slice(0, d.startIndex - p.startIndex) + p.text.slice(d.endIndex - p.startIndex)
        : p.text;
      return text
        .replace(/\s+/g, " ")
        .replace(/\s*\*\s*/g, " *")
        .trim();
    });
}

/** get_mt_mask: the kvm_x86_ops member, the VMX definition and prototypes, and the calls must agree. */
function signatureProblems(tree: KernelTree): Finding[] {
  const problems: Finding[] = [];
  const sigs: { what: string; file: string; line: number; types: string[] }[] = [];
  const member = mtMaskMember(tree);
  if (member)
    sigs.push({
      what: "kvm_x86_ops.get_mt_mask",
      file: SITES.x86KvmHost,
      line: lineOf(member.node),
      types: paramTypes(member.declarator),
    });
  const sites = mtMaskSites(tree);
  for (const d of sites.definitions)
    sigs.push({
      what: "vmx_get_mt_mask() definition",
      file: d.file,
      line: lineOf(d.node),
      types: paramTypes(d.declarator),
    });
  for (const p of sites.prototypes)
    sigs.push({
      what: "vmx_get_mt_mask() prototype",
      file: p.file,
      line: lineOf(p.node),
      types: paramTypes(p.declarator),
    });
  if (!sigs.length) return problems;
  const ref = sigs[0];
  for (const s of sigs.slice(1)) {
    if (s.types.join(",") !== ref.types.join(","))
      problems.push(
        finding(
          "signature-mismatch",
          `${s.what} takes (${s.types.join(", ")}) but ${ref.what} (${ref.file}:${ref.line}) takes (${ref.types.join(", ")})`,
          { file: s.file, line: s.line },
        ),
      );
  }
  for (const c of sites.calls) {
    const args = c.node
      .childForFieldName("arguments")!
      .namedChildren.filter((a) => a.type !== "comment").length;
    if (args !== ref.types.length)
      problems.push(
        finding(
          "signature-mismatch",
          `get_mt_mask is called with ${args} arguments; ${ref.what} takes ${ref.types.length}`,
          {
            file: c.file,
            line: lineOf(c.node),
          },
        ),
      );
  }
  return problems;
}

/** Files where a flag's uses are plumbing, not action: the uapi, api.rst and the selftests. */
const PLUMBING_FILES = [SITES.uapi, SITES.apiRst, SITES.kvmHost];

/**
 * Where the tree acts on a flag: the checked function tests it (`flagsTested`, from its extraction), or C code the
 * series touched uses it outside the plumbing sites (the uapi, check_memory_region_flags(), the flags-change test
 * of existing slots, the v1 flags list, the kvm_slot_*() helpers, documentation and selftests).
 */
function honoredAt(
  tree: KernelTree,
  macro: string,
  flagsTested: readonly string[],
  files: readonly string[],
) {
  if (flagsTested.includes(macro)) return { file: "", line: 0, how: "vmx_get_mt_mask() tests it" };
  const helper = slotHelperFor(tree, macro)?.name;
  const names = new Set([macro, ...(helper ? [helper] : [])]);
  for (const file of files) {
    if (!/\.[ch]$/.test(file) || file.startsWith("tools/") || PLUMBING_FILES.includes(file as never))
      continue;
    const text = tree.read(file);
    if (!text || ![...names].some((n) => text.includes(n))) continue;
    // Each mention in a parse of its own function, in document order.
    const at = [...names].flatMap((name) => mentions(text, name).map((i) => ({ name, i })));
    for (const { name, i } of at.sort((a, b) => a.i - b.i)) {
      const id = nodeAt(text, i);
      if (id.type !== "identifier" || id.text !== name) continue;
      let n: SyntaxNode | null = id;
      let plumbing = false;
      for (; n; n = n.parent) {
        if (n.type === "preproc_def") plumbing = true;
        if (
          n.type === "if_statement" &&
          /->flags\s*\^\s*old->flags/.test(n.childForFieldName("condition")?.text ?? "")
        )
          plumbing = true;
        if (n.type === "function_definition") {
          const fd = functionDeclarator(n);
          const name = fd ? declaredName(fd) : undefined;
          if (name === SITE_FUNCTIONS.checkFlags || (name && SLOT_HELPER.test(name))) plumbing = true;
          break;
        }
      }
      if (!plumbing) return { file, line: lineOf(id), how: `${file} uses it` };
    }
  }
  return undefined;
}

export interface PlumbingOptions {
  /** Flags defined in the base too that the series is about (a series that finishes earlier work). */
  extra?: readonly string[];
  /** Files the series touched: where helpers and constants must be defined, and where the flag may act. */
  files?: readonly string[];
  /** The memslot-flag macros the checked function tests in this state. */
  flagsTested?: readonly string[];
}

/**
 * The plumbing of the memslot flags this state adds over `base`, item by item, with the contradictions found
 * (errors: a state no commit of a bisectable series may leave).
 */
export function plumbing(tree: KernelTree, base: KernelTree, o: PlumbingOptions = {}): PlumbingReport {
  const files = o.files ?? [];
  const problems: Finding[] = [...signatureProblems(tree)];
  const { mems, caps } = uapiDefines(tree);
  const b = uapiDefines(base);
  const before = new Set([...b.mems, ...b.caps].map((d) => d.name));
  const newMems = mems.filter((d) => !before.has(d.name) || (o.extra ?? []).includes(d.name));
  const newCaps = caps.filter((d) => !before.has(d.name));

  // Capabilities: unique numbers.
  const capValues = new Map<string, string>();
  for (const c of caps) {
    if (c.value === undefined) continue;
    const other = capValues.get(String(c.value));
    if (
      other &&
      other !== c.name &&
      (newCaps.some((n) => n.name === c.name) || newCaps.some((n) => n.name === other))
    )
      problems.push(
        finding("capability-collision", `${c.name} has number ${c.value}, already used by ${other}`, {
          file: SITES.uapi,
          line: c.line,
        }),
      );
    capValues.set(String(c.value), c.name);
  }

  const selftests = files.filter((f) => f.startsWith(SITES.selftestDir + "/"));
  const flags: FlagStatus[] = [];
  for (const m of newMems) {
    const st: FlagStatus = { macro: m.name, done: [], pending: [] };
    const item = (id: StatusItem, ok: boolean, message: string, at: { file?: string; line?: number }) =>
      (ok ? st.done : st.pending).push({ id, message, ...at });
    st.bit = flagBit(m.value);
    if (st.bit === undefined) {
      problems.push(
        finding("flag-not-a-bit", `${m.name} is not a single bit`, { file: SITES.uapi, line: m.line }),
      );
    } else {
      const clash = mems.find((o) => o.name !== m.name && o.value === m.value);
      if (clash)
        problems.push(
          finding("flag-collision", `${m.name} uses bit ${st.bit}, already used by ${clash.name}`, {
            file: SITES.uapi,
            line: m.line,
          }),
        );
      else
        item("defined", true, `${m.name} defined with free bit ${st.bit}`, {
          file: SITES.uapi,
          line: m.line,
        });
    }
    const accepted = flagAccepted(tree, m.name);
    item(
      "accepted",
      accepted.length > 0,
      accepted.length
        ? `accepted by check_memory_region_flags()`
        : `${m.name} is not accepted by check_memory_region_flags()`,
      { file: SITES.kvmMain, line: accepted[0] },
    );
    if (!newCaps.length)
      item("capability", false, `no new ${CAP_PREFIX}* advertises ${m.name}`, { file: SITES.uapi });
    for (const c of newCaps) {
      const at = capabilityReport(tree, c.name);
      if (at) {
        item("capability", true, `${c.name} defined and reported`, at);
        if (!accepted.length)
          problems.push(
            finding(
              "capability-without-flag",
              `${c.name} is reported while ${m.name} is not accepted by check_memory_region_flags()`,
              at,
            ),
          );
      } else
        item("capability", false, `${c.name} is defined but not reported by KVM_CHECK_EXTENSION`, {
          file: SITES.uapi,
          line: c.line,
        });
    }
    const helper = slotHelperFor(tree, m.name);
    item(
      "helper",
      !!helper,
      helper ? `${helper.name}() tests it` : `no kvm_slot_*() helper tests ${m.name}`,
      { file: SITES.kvmHost, line: helper?.line },
    );
    const doc = apiMention(tree, m.name);
    item("documented", !!doc, doc ? `api.rst mentions it` : `does not mention ${m.name}`, {
      file: SITES.apiRst,
      line: doc,
    });
    const test = selftests.find((f) => (tree.read(f) ?? "").includes(m.name));
    item("selftest", !!test, test ? `${test} tests it` : `no KVM selftest mentions ${m.name}`, {
      file: test,
    });
    const honored = honoredAt(tree, m.name, o.flagsTested ?? [], files);
    item(
      "honored",
      !!honored,
      honored ? honored.how : `nothing acts on ${m.name}`,
      honored?.file ? honored : {},
    );
    flags.push(st);
  }

  // Helpers and constants the series starts using must exist (a commit that uses them first does not build):
  // looked up in the include closure of the file that uses them.
  for (const file of files.filter((f) => /\.(c|h)$/.test(f) && !f.startsWith("tools/"))) {
    const text = tree.read(file);
    if (!text) continue;
    const old = base.read(file) ?? "";
    // Only names the base's text of the file does not have can be new uses; most files of a step have none,
    // and then nothing is parsed or looked up.
    const isNew = (name: string) => !new RegExp(`\\b${name}\\b`).test(old);
    const helperCalls = [...text.matchAll(/\b(kvm_slot_\w+)\s*\(/g)].filter((m) => isNew(m[1]));
    const constants = [...text.matchAll(new RegExp(`\\b(?:${FLAG_PREFIX}|${CAP_PREFIX})\\w*`, "g"))].filter(
      (m) => isNew(m[0]),
    );
    if (!helperCalls.length && !constants.length) continue;
    const pp = new Preprocessor(tree, file);
    for (const m of helperCalls) {
      const fn = m[1];
      const id = nodeAt(text, m.index);
      const call = id.parent;
      // In a comment, a string or a macro body it is not a call the compiler sees.
      if (id.type !== "identifier" || id.text !== fn || call?.type !== "call_expression") continue;
      if (call.childForFieldName("function")?.startIndex !== id.startIndex) continue;
      if (SLOT_HELPER.test(fn) && !visibleName(tree, pp, fn))
        problems.push(
          finding("undefined-helper", `${fn}() is used but not defined`, { file, line: lineOf(call) }),
        );
    }
    for (const m of constants) {
      const id = nodeAt(text, m.index);
      if (id.type !== "identifier" || id.text !== m[0]) continue;
      if (!pp.defines(id.text))
        problems.push(
          finding("undefined-constant", `${id.text} is used but not defined`, { file, line: lineOf(id) }),
        );
    }
  }
  return { flags, capabilities: newCaps.map((c) => c.name), problems: dedupe(problems) };
}

/** What the end of a series leaves undone, as findings with their severity. */
export function endFindings(r: PlumbingReport): Finding[] {
  const out: Finding[] = [];
  const kinds: Record<StatusItem, FindingKind | undefined> = {
    defined: undefined,
    accepted: "not-accepted",
    capability: "no-capability",
    helper: "no-helper",
    documented: "not-documented",
    selftest: "no-selftest",
    honored: "not-honored",
  };
  for (const f of r.flags) {
    for (const p of f.pending) {
      let id = kinds[p.id];
      if (p.id === "capability" && p.line) id = "capability-not-reported";
      // A flag nothing accepts cannot be honored or tested: one finding says it.
      if (!id || (id === "not-honored" && f.pending.some((x) => x.id === "accepted"))) continue;
      out.push(finding(id, p.message, { file: p.file, line: p.line }));
    }
  }
  return out;
}

function dedupe(fs: Finding[]): Finding[] {
  const m = new Map<string, Finding>();
  for (const f of fs) m.set(`${f.id}\0${f.file}\0${f.line}\0${f.message}`, f);
  return [...m.values()];
}
