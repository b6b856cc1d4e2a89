// Emit stage: the memslot-flag plumbing as located edits on a tree — uapi defines, check_memory_region_flags(),
// immutability, the capability, the kvm_slot_*() helper, get_mt_mask's signature and caller, api.rst, the
// selftest, and for mem-dma the PAT helper. Each edit reads the file as the previous patches left it.

import { InputError } from "../spec/errors.js";
import type { Flag } from "../spec/flags.js";
import { Preprocessor } from "../checker/cpp.js";
import { constantsOf } from "../checker/interp.js";
import { findFunctions, parseC, type SyntaxNode } from "../checker/parse.js";
import type { KernelTree } from "../checker/tree.js";
import { comment, wrapCondition, wrapList, wrapText, width } from "./cstyle.js";
import {
  defines,
  descendants,
  endOfLine,
  indentAt,
  insertAt,
  parameters,
  prototypes,
  readOrFail,
  replaceRange,
  startOfLine,
  theFunction,
} from "./locate.js";
import { render } from "./render.js";

export type Edit = [file: string, content: string];

export const UAPI = "include/uapi/linux/kvm.h";
export const KVM_MAIN = "virt/kvm/kvm_main.c";
export const KVM_HOST = "include/linux/kvm_host.h";
export const X86_KVM_HOST = "arch/x86/include/asm/kvm_host.h";
export const SPTE = "arch/x86/kvm/mmu/spte.c";
export const API_RST = "Documentation/virt/kvm/api.rst";
export const SELFTEST = "tools/testing/selftests/kvm/set_memory_region_test.c";
export const PAT_C = "arch/x86/mm/pat/memtype.c";
export const PAT_HELPER = "pat_pfn_memtype";

/** The numbers a new flag and capability get in this tree: the next free bit, the next capability number. */
export function numbering(tree: KernelTree): {
  bit: number;
  cap: number;
  usedBits: number[];
  lastCap: number;
} {
  const text = readOrFail(tree, UAPI, "the KVM uapi");
  const value = constantsOf(tree, new Preprocessor(tree, UAPI));
  const bits: number[] = [];
  for (const d of defines(text, /^KVM_MEM_/)) {
    const v = value(d.name);
    if (v !== undefined && v > 0n && (v & (v - 1n)) === 0n) bits.push(v.toString(2).length - 1);
  }
  const caps = defines(text, /^KVM_CAP_/).map((d) => Number(value(d.name) ?? -1n));
  if (bits.length === 0 || caps.length === 0)
    throw new InputError(`${UAPI}: no KVM_MEM_* flags or KVM_CAP_* numbers found`);
  return {
    bit: Math.max(...bits) + 1,
    cap: Math.max(...caps) + 1,
    usedBits: bits.sort((a, b) => a - b),
    lastCap: Math.max(...caps),
  };
}

export function uapiEdit(tree: KernelTree, flag: Flag): Edit {
  let text = readOrFail(tree, UAPI, "the KVM uapi");
  const { bit, cap } = numbering(tree);
  if (defines(text, new RegExp(`^${flag.macro}$`)).length)
    throw new InputError(`${UAPI} already defines ${flag.macro}`);
  const caps = defines(text, /^KVM_CAP_/);
  const lastCap = caps.reduce((a, b) => (Number(a.value) >= Number(b.value) ? a : b));
  // Edit the later position first so that the earlier index stays valid.
  const mems = defines(text, /^KVM_MEM_/);
  const lastMem = mems[mems.length - 1];
  const edits = [
    { at: endOfLine(text, lastMem.node.startIndex), text: render("uapi-flag.h", { macro: flag.macro, bit }) },
    {
      at: endOfLine(text, lastCap.node.startIndex),
      text: render("uapi-cap.h", { capability: flag.capability, number: cap }),
    },
  ].sort((a, b) => b.at - a.at);
  for (const e of edits) text = insertAt(text, e.at, e.text);
  return [UAPI, text];
}

function archTest(flag: Flag): string[] {
  return flag.arches.length === 1
    ? [`IS_ENABLED(CONFIG_${flag.arches[0]})`]
    : [`(${flag.arches.map((a) => `IS_ENABLED(CONFIG_${a})`).join(" || ")})`];
}

/** check_memory_region_flags(): accept the flag on its architectures, not with incompatible flags. */
export function checkFlagsEdit(tree: KernelTree, flag: Flag, incompatible: readonly string[]): Edit {
  let { text, node } = theFunction(tree, KVM_MAIN, "check_memory_region_flags");
  const mem = parameters(node).params.find((p) => /kvm_userspace_memory_region/.test(p.type))?.name;
  if (!mem) throw new InputError(`${KVM_MAIN}: check_memory_region_flags() has no memory region parameter`);
  const final = descendants(node, (n) => n.type === "if_statement").find((n) =>
    /flags\s*&\s*~\s*valid_flags/.test(n.childForFieldName("condition")!.text),
  );
  if (!final)
    throw new InputError(`${KVM_MAIN}: check_memory_region_flags() has no 'flags & ~valid_flags' test`);
  const indent = indentAt(text, final.startIndex);
  const terms = [...archTest(flag), ...incompatible.map((f) => `!(${mem}->flags & ${f})`)];
  const test = wrapCondition(
    indent.length,
    "if (",
    terms.map((t, i) => (i === terms.length - 1 ? `${t})` : t)),
  );
  text = insertAt(
    text,
    startOfLine(text, final.startIndex),
    render("check-flags.c", { test, indent, macro: flag.macro }),
  );

  // Trees with KVM_SET_USER_MEMORY_REGION2 list the flags the v1 ioctl may carry; the new flag needs no v2 field.
  const v1 = defines(text, /^KVM_SET_USER_MEMORY_REGION_V1_FLAGS$/)[0];
  if (v1) {
    const close = text.lastIndexOf(")", v1.node.endIndex);
    if (close < v1.node.startIndex)
      throw new InputError(`${KVM_MAIN}: KVM_SET_USER_MEMORY_REGION_V1_FLAGS is not a parenthesized list`);
    const line = text.slice(startOfLine(text, close), close);
    const add = width(`${line} | ${flag.macro})`) <= 80 ? ` | ${flag.macro}` : ` | \\\n\t ${flag.macro}`;
    text = insertAt(text, close, add);
  }
  return [KVM_MAIN, text];
}

/** __kvm_set_memory_region(): the flag may not change on an existing slot. */
export function immutableEdit(tree: KernelTree, flag: Flag): Edit {
  const text = readOrFail(tree, KVM_MAIN, "memslot updates");
  const root = parseC(text).rootNode;
  const ifs = descendants(root, (n) => n.type === "if_statement").filter((n) =>
    /\(\s*(\w+)->flags\s*\^\s*old->flags\s*\)/.test(n.childForFieldName("condition")!.text),
  );
  if (ifs.length !== 1)
    throw new InputError(
      `${KVM_MAIN}: expected one '(mem->flags ^ old->flags)' test of an existing slot, found ${ifs.length}`,
    );
  const mem = /\(\s*(\w+)->flags\s*\^/.exec(ifs[0].text)![1];
  const indent = indentAt(text, ifs[0].startIndex);
  const note = comment(`${flag.macro} cannot be set or cleared on an existing slot.`, indent.length);
  return [
    KVM_MAIN,
    insertAt(
      text,
      endOfLine(text, ifs[0].endIndex),
      render("immutable.c", { indent, mem, macro: flag.macro, comment: note }),
    ),
  ];
}

/** kvm_vm_ioctl_check_extension_generic(): report the capability on the flag's architectures. */
export function capabilityEdit(tree: KernelTree, flag: Flag): Edit {
  const { text, node } = theFunction(tree, KVM_MAIN, "kvm_vm_ioctl_check_extension_generic");
  const sw = descendants(node, (n) => n.type === "switch_statement")[0];
  const def = sw && descendants(sw, (n) => n.type === "case_statement" && n.text.startsWith("default"))[0];
  if (!def)
    throw new InputError(`${KVM_MAIN}: kvm_vm_ioctl_check_extension_generic() has no 'default:' case`);
  const indent = indentAt(text, def.startIndex);
  const value = archTest(flag).join(" || ");
  return [
    KVM_MAIN,
    insertAt(
      text,
      startOfLine(text, def.startIndex),
      render("cap-case.c", { indent, capability: flag.capability, value }),
    ),
  ];
}

/** include/linux/kvm_host.h: kvm_slot_<flag>() after the last kvm_slot_*() helper. */
export function slotHelperEdit(tree: KernelTree, flag: Flag): Edit {
  const text = readOrFail(tree, KVM_HOST, "the memslot helpers");
  const helpers = descendants(parseC(text).rootNode, (n) => n.type === "function_definition").filter((n) =>
    /\bkvm_slot_\w+\s*\(/.test(n.text.split("{")[0]),
  );
  if (!helpers.length)
    throw new InputError(`${KVM_HOST}: no kvm_slot_*() helper to place ${flag.helper}() next to`);
  const last = helpers[helpers.length - 1];
  return [
    KVM_HOST,
    insertAt(
      text,
      endOfLine(text, last.endIndex),
      render("slot-helper.h", { helper: flag.helper, macro: flag.macro }),
    ),
  ];
}

/** A parameter list rewritten with extra parameters, wrapped and aligned under its parenthesis. */
function rewriteParams(text: string, list: SyntaxNode, params: readonly string[]): string {
  const lineStart = startOfLine(text, list.startIndex);
  const prefix = text.slice(lineStart, list.startIndex + 1);
  const wrapped = wrapList(prefix, params, ")");
  return replaceRange(text, lineStart, list.endIndex, wrapped);
}

export interface NewParams {
  slot: string;
  pfn?: string;
}

export function newParamDecls(p: NewParams): string[] {
  return [`const struct kvm_memory_slot *${p.slot}`, ...(p.pfn ? [`kvm_pfn_t ${p.pfn}`] : [])];
}

/** The get_mt_mask member of kvm_x86_ops, and every definition and prototype of the VMX implementation. */
export function signatureEdits(tree: KernelTree, vmxFn: string, vmxFile: string, add: NewParams): Edit[] {
  const edits: Edit[] = [];
  {
    const text = readOrFail(tree, X86_KVM_HOST, "kvm_x86_ops");
    const member = descendants(
      parseC(text).rootNode,
      (n) => n.type === "field_declaration" && /\(\s*\*\s*get_mt_mask\s*\)/.test(n.text),
    )[0];
    if (!member) throw new InputError(`${X86_KVM_HOST}: no get_mt_mask member in kvm_x86_ops`);
    const fd = descendants(member, (n) => n.type === "function_declarator")[0];
    const { list, params } = parameters(fd);
    edits.push([
      X86_KVM_HOST,
      rewriteParams(text, list, [...params.map((p) => p.text), ...newParamDecls(add)]),
    ]);
  }
  const files = tree.list("arch/x86/kvm", (f) => f.endsWith(".c") || f.endsWith(".h"));
  for (const file of files) {
    let text = tree.read(file)!;
    if (!text.includes(vmxFn)) continue;
    const nodes = [
      ...findFunctions(parseC(text).rootNode, vmxFn).map(
        (n) => descendants(n, (x) => x.type === "function_declarator")[0],
      ),
      ...prototypes(text, vmxFn).map((d) => descendants(d, (x) => x.type === "function_declarator")[0]),
    ].sort((a, b) => b.startIndex - a.startIndex);
    if (!nodes.length) continue;
    for (const fd of nodes) {
      const { list, params } = parameters(fd);
      text = rewriteParams(text, list, [...params.map((p) => p.text), ...newParamDecls(add)]);
    }
    edits.push([file, text]);
  }
  if (!edits.some(([f]) => f === vmxFile))
    throw new InputError(`${vmxFile}: ${vmxFn}() not found for the signature change`);
  return edits;
}

/** make_spte(): pass its memslot (and PFN) to get_mt_mask. */
export function callerEdit(tree: KernelTree, add: NewParams): Edit {
  const text = readOrFail(tree, SPTE, "the get_mt_mask call");
  const root = parseC(text).rootNode;
  const calls = descendants(
    root,
    (n) => n.type === "call_expression" && /get_mt_mask/.test(n.childForFieldName("function")!.text),
  );
  if (calls.length !== 1)
    throw new InputError(`${SPTE}: expected one get_mt_mask call, found ${calls.length}`);
  let fn: SyntaxNode | null = calls[0];
  while (fn && fn.type !== "function_definition") fn = fn.parent;
  const ps = fn ? parameters(fn).params : [];
  const slot = ps.find((p) => /kvm_memory_slot/.test(p.type))?.name;
  const pfn = ps.find((p) => /kvm_pfn_t/.test(p.type))?.name;
  if (!slot || (add.pfn && !pfn))
    throw new InputError(
      `${SPTE}: the caller of get_mt_mask has no memslot${add.pfn ? " or PFN" : ""} parameter`,
    );
  const args = calls[0].childForFieldName("arguments")!;
  const old = args.namedChildren.filter((a) => a.type !== "comment").map((a) => a.text.replace(/\s+/g, " "));
  return [SPTE, rewriteParams(text, args, [...old, slot, ...(add.pfn ? [pfn!] : [])])];
}

/** api.rst: the flag in KVM_SET_USER_MEMORY_REGION, and a capability section at the end of section 8. */
export function apiEdit(tree: KernelTree, flag: Flag, bit: number): Edit {
  const text = readOrFail(tree, API_RST, "the API documentation");
  const lines = text.split("\n");
  const sec = lines.findIndex((l) => /^4\.\d+ KVM_SET_USER_MEMORY_REGION$/.test(l));
  if (sec < 0) throw new InputError(`${API_RST}: no KVM_SET_USER_MEMORY_REGION section`);
  const next = lines.findIndex((l, i) => i > sec + 1 && /^4\.\d+ /.test(l));
  const defs = lines
    .map((l, i) => [l, i] as const)
    .filter(([l, i]) => i > sec && i < next && /^\s+#define KVM_MEM_\w+/.test(l));
  const para = lines.findIndex((l, i) => i > sec && i < next && /^The flags field supports/.test(l));
  if (!defs.length || para < 0)
    throw new InputError(`${API_RST}: KVM_SET_USER_MEMORY_REGION does not list its flags as expected`);
  const lastDef = defs[defs.length - 1];
  const paraEnd = lines.findIndex((l, i) => i > para && l.trim() === "");
  const capHeads = lines.map((l, i) => [/^8\.(\d+) KVM_CAP_/.exec(l), i] as const).filter(([m]) => m);
  const known = lines.findIndex((l) => /^9\. Known KVM API problems/.test(l));
  if (!capHeads.length || known < 0)
    throw new InputError(`${API_RST}: no capability list (section 8) followed by section 9`);
  const number = `8.${Math.max(...capHeads.map(([m]) => Number(m![1]))) + 1}`;
  const heading = `${number} ${flag.capability}`;
  const capText = render("api-cap.rst", {
    number,
    capability: flag.capability,
    underline: "-".repeat(heading.length),
    arches: flag.arches.map((a) => a.toLowerCase()).join(", "),
    doc: wrapText(flag.capDoc, 75),
  });
  const out = [...lines];
  // From the bottom up, so that earlier indices stay valid.
  out.splice(known, 0, ...capText.replace(/\n$/, "").split("\n"));
  out.splice(
    paraEnd,
    0,
    ...render("api-flag.rst", { doc: wrapText(flag.doc, 75) })
      .replace(/\n$/, "")
      .split("\n"),
  );
  out.splice(lastDef[1] + 1, 0, `  #define ${flag.macro}\t(1UL << ${bit})`);
  return [API_RST, out.join("\n")];
}

/** The memslot selftest: the flag among the supported ones, and a test of accepting it (and immutability). */
export function selftestEdit(tree: KernelTree, flag: Flag): Edit {
  let text = readOrFail(tree, SELFTEST, "the memslot selftest");
  const root = parseC(text).rootNode;
  const main = findFunctions(root, "main")[0];
  if (!main) throw new InputError(`${SELFTEST}: no main()`);
  const fnName = `test_${flag.helper.replace(/^kvm_slot_/, "")}_memslot_flag`;
  const comment = wrapText(
    `${flag.macro} is accepted on a new memory slot where KVM reports ${flag.capability}${flag.mutable ? "" : ", and cannot be cleared on an existing slot"}.`,
    76,
  ).split("\n");
  // Edits from the bottom of the file up.
  const body = main.childForFieldName("body")!;
  const anchor =
    body.namedChildren.find(
      (s) => s.type === "expression_statement" && /^test_add_max_memory_regions\s*\(\s*\)/.test(s.text),
    ) ?? body.namedChildren.find((s) => s.type === "expression_statement" && /^test_\w+\s*\(/.test(s.text));
  if (!anchor)
    throw new InputError(`${SELFTEST}: main() calls no test_*() function to place the new test after`);
  text = insertAt(text, endOfLine(text, anchor.endIndex), `\n\t${fnName}();\n`);
  const set = (flags: string) =>
    wrapList(
      "\tr = __vm_set_user_memory_region(",
      ["vm", "MEM_REGION_SLOT", flags, "MEM_REGION_GPA", "MEM_REGION_SIZE", "mem"],
      ");",
    );
  text = insertAt(
    text,
    main.startIndex,
    render("selftest-test.c", {
      fn: fnName,
      capability: flag.capability,
      macro: flag.macro,
      mutable: flag.mutable,
      commentLines: comment,
      setWithFlag: set(flag.macro),
      setWithout: set("0"),
    }),
  );
  const inv = findFunctions(parseC(text).rootNode, "test_invalid_memory_region_flags")[0];
  if (inv) {
    const sets = inv
      .childForFieldName("body")!
      .namedChildren.filter((s) => /supported_flags\s*\|=/.test(s.text) && !s.type.startsWith("preproc"));
    const last = sets[sets.length - 1];
    if (last)
      text = insertAt(
        text,
        endOfLine(text, last.endIndex),
        render("selftest-supported.c", { capability: flag.capability, macro: flag.macro }),
      );
  }
  return [SELFTEST, text];
}

/** mem-dma: an exported helper next to the x86 PAT code, and its declaration next to its neighbour's. */
export function patHelperEdits(tree: KernelTree): Edit[] {
  const c = readOrFail(tree, PAT_C, "the PAT helper");
  const exp = /^EXPORT_SYMBOL_GPL\(pat_pfn_immune_to_uc_mtrr\);$/m.exec(c);
  if (!exp || !/lookup_memtype\s*\(/.test(c))
    throw new InputError(
      `${PAT_C}: no lookup_memtype() and pat_pfn_immune_to_uc_mtrr() to place ${PAT_HELPER}() next to`,
    );
  const headers = tree.list("arch/x86/include/asm", (f) => f.endsWith(".h"));
  const header = headers.find((h) =>
    /extern bool pat_pfn_immune_to_uc_mtrr\(unsigned long pfn\);/.test(tree.read(h) ?? ""),
  );
  if (!header) throw new InputError(`no header declares pat_pfn_immune_to_uc_mtrr()`);
  const h = tree.read(header)!;
  const decl = /^extern bool pat_pfn_immune_to_uc_mtrr\(unsigned long pfn\);$/m.exec(h)!;
  return [
    [PAT_C, insertAt(c, endOfLine(c, exp.index), render("pat-helper.c", { fn: PAT_HELPER }))],
    [header, insertAt(h, endOfLine(h, decl.index), render("pat-helper.h", { fn: PAT_HELPER }))],
  ];
}

/** The asm header that declares the PAT helper (as the PAT helper patch left the tree). */
export function patHelperHeader(tree: KernelTree): string {
  const h = tree
    .list("arch/x86/include/asm", (f) => f.endsWith(".h"))
    .find((f) => new RegExp(`\\b${PAT_HELPER}\\s*\\(`).test(tree.read(f) ?? ""));
  if (!h) throw new InputError(`no header under arch/x86/include/asm declares ${PAT_HELPER}()`);
  return h.replace(/^arch\/x86\/include\//, "");
}

/** `#include <header>` in a file that lacks it, placed among its <asm/...> (or <linux/...>) includes by name. */
export function includeEdit(tree: KernelTree, file: string, header: string): Edit {
  const text = readOrFail(tree, file, `#include <${header}>`);
  if (new RegExp(`^#include <${header.replace(/[.+]/g, "\\$&")}>`, "m").test(text)) return [file, text];
  const dir = header.split("/")[0];
  const lines = [...text.matchAll(new RegExp(`^#include <${dir}/[^>]+>$`, "gm"))];
  if (!lines.length)
    throw new InputError(`${file}: no #include <${dir}/...> to place #include <${header}> next to`);
  const after = lines.find((m) => m[0].slice(10, -1) > header);
  const at = after ? after.index! : endOfLine(text, lines[lines.length - 1].index!);
  return [file, insertAt(text, at, `#include <${header}>\n`)];
}
