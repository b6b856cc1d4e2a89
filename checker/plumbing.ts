// Plumbing stage: is a memslot flag wired through KVM consistently in a tree state? Read with tree-sitter from
// the tree itself: the uapi define and its bit, check_memory_region_flags(), the capability and its report, the
// kvm_slot_*() helper, api.rst, and whether every get_mt_mask declaration, definition and call agree.

import { Preprocessor } from "./cpp.js";
import { constantsOf } from "./interp.js";
import {
  declaredName,
  defines,
  descendants,
  findFunctions,
  functionDeclarator,
  lineOf,
  parseC,
  type SyntaxNode,
} from "./parse.js";
import type { KernelTree } from "./tree.js";

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

const UAPI = "include/uapi/linux/kvm.h";

/** Uses of an identifier inside a function of a file: [line] of each. */
function usesIn(tree: KernelTree, file: string, fn: string, ident: string): number[] {
  const text = tree.read(file);
  if (!text || !text.includes(ident)) return [];
  return findFunctions(parseC(text).rootNode, fn).flatMap((f) =>
    descendants(f, (n) => n.type === "identifier" && n.text === ident).map(lineOf),
  );
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
  const host = tree.read("arch/x86/include/asm/kvm_host.h");
  if (host) {
    const member = descendants(
      parseC(host).rootNode,
      (n) => n.type === "field_declaration" && /\(\s*\*\s*get_mt_mask\s*\)/.test(n.text),
    )[0];
    const fd = member && descendants(member, (n) => n.type === "function_declarator")[0];
    if (fd)
      sigs.push({
        what: "kvm_x86_ops.get_mt_mask",
        file: "arch/x86/include/asm/kvm_host.h",
        line: lineOf(member),
        types: paramTypes(fd),
      });
  }
  const calls: { file: string; line: number; args: number }[] = [];
  for (const file of tree.list("arch/x86/kvm", (f) => f.endsWith(".c") || f.endsWith(".h"))) {
    const text = tree.read(file)!;
    if (!text.includes("get_mt_mask")) continue;
    const root = parseC(text).rootNode;
    for (const def of findFunctions(root, "vmx_get_mt_mask")) {
      sigs.push({
        what: "vmx_get_mt_mask() definition",
        file,
        line: lineOf(def),
        types: paramTypes(functionDeclarator(def)!),
      });
    }
    for (const d of descendants(root, (n) => n.type === "declaration")) {
      for (const fd of d
        .childrenForFieldName("declarator")
        .filter((x) => x.type === "function_declarator" && declaredName(x) === "vmx_get_mt_mask")) {
        sigs.push({ what: "vmx_get_mt_mask() prototype", file, line: lineOf(d), types: paramTypes(fd) });
      }
    }
    for (const c of descendants(
      root,
      (n) => n.type === "call_expression" && /get_mt_mask\b/.test(n.childForFieldName("function")!.text),
    )) {
      calls.push({
        file,
        line: lineOf(c),
        args: c.childForFieldName("arguments")!.namedChildren.filter((a) => a.type !== "comment").length,
      });
    }
  }
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
  for (const c of calls) {
    if (c.args !== ref.types.length) {
      problems.push({
        id: "signature-mismatch",
        message: `get_mt_mask is called with ${c.args} arguments; ${ref.what} takes ${ref.types.length}`,
        file: c.file,
        line: c.line,
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
  const uapi = tree.read(UAPI) ?? "";
  const baseUapi = base.read(UAPI) ?? "";
  const value = constantsOf(tree, new Preprocessor(tree, UAPI));
  const before = new Set(defines(baseUapi, /^KVM_(MEM|CAP)_/).map((d) => d.name));
  const mems = defines(uapi, /^KVM_MEM_/);
  const caps = defines(uapi, /^KVM_CAP_/);
  const newMems = mems.filter((d) => !before.has(d.name) || extra.includes(d.name));
  const newCaps = caps.filter((d) => !before.has(d.name));

  // Capabilities: unique numbers.
  const capValues = new Map<string, string>();
  for (const c of caps) {
    const v = value(c.name);
    if (v === undefined) continue;
    const other = capValues.get(String(v));
    if (other && (newCaps.some((n) => n.name === c.name) || newCaps.some((n) => n.name === other))) {
      problems.push({
        id: "capability-collision",
        message: `${c.name} has number ${v}, already used by ${other}`,
        file: UAPI,
        line: c.line,
      });
    }
    capValues.set(String(v), c.name);
  }
  const reported = (cap: string) =>
    [
      ...usesIn(tree, "virt/kvm/kvm_main.c", "kvm_vm_ioctl_check_extension_generic", cap).map((line) => ({
        file: "virt/kvm/kvm_main.c",
        line,
      })),
      ...usesIn(tree, "arch/x86/kvm/x86.c", "kvm_vm_ioctl_check_extension", cap).map((line) => ({
        file: "arch/x86/kvm/x86.c",
        line,
      })),
    ][0];

  const flags: FlagStatus[] = [];
  const rst = tree.read("Documentation/virt/kvm/api.rst") ?? "";
  const hostH = tree.read("include/linux/kvm_host.h") ?? "";
  for (const m of newMems) {
    const st: FlagStatus = { macro: m.name, done: [], pending: [] };
    const v = value(m.name);
    if (v === undefined || v <= 0n || (v & (v - 1n)) !== 0n) {
      problems.push({
        id: "flag-not-a-bit",
        message: `${m.name} is not a single bit`,
        file: UAPI,
        line: m.line,
      });
    } else {
      st.bit = v.toString(2).length - 1;
      const clash = mems.find((o) => o.name !== m.name && value(o.name) === v);
      if (clash)
        problems.push({
          id: "flag-collision",
          message: `${m.name} uses bit ${st.bit}, already used by ${clash.name}`,
          file: UAPI,
          line: m.line,
        });
      else
        st.done.push({
          id: "defined",
          message: `${m.name} defined with free bit ${st.bit}`,
          file: UAPI,
          line: m.line,
        });
    }
    const accepted = usesIn(tree, "virt/kvm/kvm_main.c", "check_memory_region_flags", m.name);
    if (accepted.length)
      st.done.push({
        id: "accepted",
        message: `accepted by check_memory_region_flags()`,
        file: "virt/kvm/kvm_main.c",
        line: accepted[0],
      });
    else
      st.pending.push({
        id: "accepted",
        message: `${m.name} is not accepted by check_memory_region_flags()`,
        file: "virt/kvm/kvm_main.c",
      });
    const cap = newCaps.map((c) => ({ c, at: reported(c.name) }));
    if (!newCaps.length)
      st.pending.push({ id: "capability", message: `no new KVM_CAP_* advertises ${m.name}`, file: UAPI });
    for (const { c, at } of cap) {
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
          file: UAPI,
          line: c.line,
        });
    }
    const helper = descendants(parseC(hostH).rootNode, (n) => n.type === "function_definition").find(
      (f) => /\bkvm_slot_\w+\s*\(/.test(f.text.split("{")[0]) && f.text.includes(m.name),
    );
    if (helper)
      st.done.push({
        id: "helper",
        message: `${declaredName(functionDeclarator(helper) ?? null)}() tests it`,
        file: "include/linux/kvm_host.h",
        line: lineOf(helper),
      });
    else
      st.pending.push({
        id: "helper",
        message: `no kvm_slot_*() helper in include/linux/kvm_host.h tests ${m.name}`,
        file: "include/linux/kvm_host.h",
      });
    const doc = rst.split("\n").findIndex((l) => l.includes(m.name));
    if (doc >= 0)
      st.done.push({
        id: "documented",
        message: `api.rst mentions it`,
        file: "Documentation/virt/kvm/api.rst",
        line: doc + 1,
      });
    else
      st.pending.push({
        id: "documented",
        message: `Documentation/virt/kvm/api.rst does not mention ${m.name}`,
        file: "Documentation/virt/kvm/api.rst",
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
    const helperDefined = (fn: string) =>
      pp.includeClosure().some((f) => {
        const t = tree.read(f);
        return !!t && t.includes(fn) && findFunctions(parseC(t).rootNode, fn).length > 0;
      });
    for (const c of descendants(parseC(text).rootNode, (n) => n.type === "call_expression")) {
      const fn = c.childForFieldName("function")!.text;
      if (/^kvm_slot_\w+$/.test(fn) && !new RegExp(`\\b${fn}\\b`).test(old) && !helperDefined(fn)) {
        problems.push({
          id: "undefined-helper",
          message: `${fn}() is used but not defined`,
          file,
          line: lineOf(c),
        });
      }
    }
    for (const id of descendants(
      parseC(text).rootNode,
      (n) => n.type === "identifier" && /^KVM_(MEM|CAP)_/.test(n.text),
    )) {
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
