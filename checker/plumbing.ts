// Plumbing stage: is a memslot flag wired through KVM consistently in a tree state? Each site is found through
// kernel/kvm-sites: the uapi define and its bit, check_memory_region_flags(), the capability and its report, the
// kvm_slot_*() helper, api.rst, and whether every get_mt_mask declaration, definition and call agree.

import { Preprocessor } from "../kernel/cpp.js";
import { visibleName } from "../kernel/locate.js";
import { descendants, lineOf, parseC, type SyntaxNode } from "../kernel/parse.js";
import {
  apiMention,
  capabilityReport,
  CAP_PREFIX,
  flagAccepted,
  flagBit,
  FLAG_PREFIX,
  mtMaskMember,
  mtMaskSites,
  SITES,
  SLOT_HELPER,
  slotHelperFor,
  uapiDefines,
} from "../kernel/kvm-sites.js";
import type { KernelTree } from "../kernel/tree.js";

export interface Finding {
  id: string;
  message: string;
  file?: string;
  line?: number;
}

export interface FlagStatus {
  macro: string;
  bit?: number;
  /** Done items, and items not done yet (fine in the middle of a series, not at its end). */
  done: Finding[];
  pending: Finding[];
}

export interface PlumbingReport {
  flags: FlagStatus[];
  capabilities: string[];
  /** Contradictions: a state no commit of a bisectable series may leave. */
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
    if (s.types.join(",") !== ref.types.join(",")) {
      problems.push({
        id: "signature-mismatch",
        message: `${s.what} takes (${s.types.join(", ")}) but ${ref.what} (${ref.file}:${ref.line}) takes (${ref.types.join(", ")})`,
        file: s.file,
        line: s.line,
      });
    }
  }
  for (const c of sites.calls) {
    const args = c.node
      .childForFieldName("arguments")!
      .namedChildren.filter((a) => a.type !== "comment").length;
    if (args !== ref.types.length) {
      problems.push({
        id: "signature-mismatch",
        message: `get_mt_mask is called with ${args} arguments; ${ref.what} takes ${ref.types.length}`,
        file: c.file,
        line: lineOf(c.node),
      });
    }
  }
  return problems;
}

/**
 * The plumbing of the memslot flags this state adds over `base` (and of `extra` flags, when defined), with the
 * contradictions found. `files` limits the undefined-helper search to files the series touched.
 */
export function plumbing(
  tree: KernelTree,
  base: KernelTree,
  extra: readonly string[] = [],
  files: readonly string[] = [],
): PlumbingReport {
  const problems: Finding[] = [...signatureProblems(tree)];
  const { mems, caps } = uapiDefines(tree);
  const b = uapiDefines(base);
  const before = new Set([...b.mems, ...b.caps].map((d) => d.name));
  const newMems = mems.filter((d) => !before.has(d.name) || extra.includes(d.name));
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
    ) {
      problems.push({
        id: "capability-collision",
        message: `${c.name} has number ${c.value}, already used by ${other}`,
        file: SITES.uapi,
        line: c.line,
      });
    }
    capValues.set(String(c.value), c.name);
  }

  const flags: FlagStatus[] = [];
  for (const m of newMems) {
    const st: FlagStatus = { macro: m.name, done: [], pending: [] };
    st.bit = flagBit(m.value);
    if (st.bit === undefined) {
      problems.push({
        id: "flag-not-a-bit",
        message: `${m.name} is not a single bit`,
        file: SITES.uapi,
        line: m.line,
      });
    } else {
      const clash = mems.find((o) => o.name !== m.name && o.value === m.value);
      if (clash)
        problems.push({
          id: "flag-collision",
          message: `${m.name} uses bit ${st.bit}, already used by ${clash.name}`,
          file: SITES.uapi,
          line: m.line,
        });
      else
        st.done.push({
          id: "defined",
          message: `${m.name} defined with free bit ${st.bit}`,
          file: SITES.uapi,
          line: m.line,
        });
    }
    const accepted = flagAccepted(tree, m.name);
    if (accepted.length)
      st.done.push({
        id: "accepted",
        message: `accepted by check_memory_region_flags()`,
        file: SITES.kvmMain,
        line: accepted[0],
      });
    else
      st.pending.push({
        id: "accepted",
        message: `${m.name} is not accepted by check_memory_region_flags()`,
        file: SITES.kvmMain,
      });
    if (!newCaps.length)
      st.pending.push({
        id: "capability",
        message: `no new ${CAP_PREFIX}* advertises ${m.name}`,
        file: SITES.uapi,
      });
    for (const c of newCaps) {
      const at = capabilityReport(tree, c.name);
      if (at) {
        st.done.push({
          id: "capability",
          message: `${c.name} defined and reported`,
          file: at.file,
          line: at.line,
        });
        if (!accepted.length) {
          problems.push({
            id: "capability-without-flag",
            message: `${c.name} is reported while ${m.name} is not accepted by check_memory_region_flags()`,
            file: at.file,
            line: at.line,
          });
        }
      } else
        st.pending.push({
          id: "capability",
          message: `${c.name} is defined but not reported by KVM_CHECK_EXTENSION`,
          file: SITES.uapi,
          line: c.line,
        });
    }
    const helper = slotHelperFor(tree, m.name);
    if (helper)
      st.done.push({
        id: "helper",
        message: `${helper.name}() tests it`,
        file: SITES.kvmHost,
        line: helper.line,
      });
    else
      st.pending.push({
        id: "helper",
        message: `no kvm_slot_*() helper in ${SITES.kvmHost} tests ${m.name}`,
        file: SITES.kvmHost,
      });
    const doc = apiMention(tree, m.name);
    if (doc)
      st.done.push({ id: "documented", message: `api.rst mentions it`, file: SITES.apiRst, line: doc });
    else
      st.pending.push({
        id: "documented",
        message: `${SITES.apiRst} does not mention ${m.name}`,
        file: SITES.apiRst,
      });
    flags.push(st);
  }

  // Helpers and constants the series starts using must exist (a commit that uses them first does not build):
  // looked up in the include closure of the file that uses them.
  for (const file of files.filter((f) => /\.(c|h)$/.test(f) && !f.startsWith("tools/"))) {
    const text = tree.read(file);
    if (!text) continue;
    const old = base.read(file) ?? "";
    const pp = new Preprocessor(tree, file);
    const root = parseC(text).rootNode;
    for (const c of descendants(root, (n) => n.type === "call_expression")) {
      const fn = c.childForFieldName("function")!.text;
      if (SLOT_HELPER.test(fn) && !new RegExp(`\\b${fn}\\b`).test(old) && !visibleName(tree, pp, fn)) {
        problems.push({
          id: "undefined-helper",
          message: `${fn}() is used but not defined`,
          file,
          line: lineOf(c),
        });
      }
    }
    const names = new RegExp(`^(${FLAG_PREFIX}|${CAP_PREFIX})`);
    for (const id of descendants(root, (n) => n.type === "identifier" && names.test(n.text))) {
      if (!new RegExp(`\\b${id.text}\\b`).test(old) && pp.lookup(id.text).length === 0) {
        problems.push({
          id: "undefined-constant",
          message: `${id.text} is used but not defined`,
          file,
          line: lineOf(id),
        });
      }
    }
  }
  return { flags, capabilities: newCaps.map((c) => c.name), problems: dedupe(problems) };
}

function dedupe(fs: Finding[]): Finding[] {
  const m = new Map<string, Finding>();
  for (const f of fs) m.set(`${f.id}\0${f.file}\0${f.line}\0${f.message}`, f);
  return [...m.values()];
}
