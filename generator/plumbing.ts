// Emit stage (plumbing): the memslot-flag plumbing as located edits on a tree — uapi defines, check_memory_region_flags(),
// immutability, the capability, the kvm_slot_*() helper, get_mt_mask's signature and caller, api.rst, the
// selftest, and for mem-dma the PAT helper. Each edit reads the file as the previous patches left it.

import { InputError } from "../spec/errors.js";
import type { Flag } from "../spec/flags.js";
import { definitionsIn } from "../kernel/locate.js";
import {
  type UapiDefine,
  apiSections,
  flagsChangeTests,
  mtMaskCaller,
  mtMaskMember,
  mtMaskSites,
  numbering,
  readSite,
  SITE_FUNCTIONS,
  SITES,
  siteFunctionOrFail,
  slotHelpers,
  uapiDefines,
  v1FlagsDefine,
  V1_FLAGS,
} from "../kernel/kvm-sites.js";
import { descendants, type SyntaxNode } from "../kernel/parse.js";
import type { KernelTree } from "../kernel/tree.js";
import { comment, wrapCondition, wrapList, wrapText, width } from "./cstyle.js";
import { endOfLine, indentAt, insertAt, parameters, replaceRange, startOfLine } from "./text.js";
import { render } from "./render.js";
import type { Edit } from "./steps.js";

export const PAT_HELPER = "pat_pfn_memtype";

/**
 * Where a new define goes after `d`: the end of its line, or — when `d` sits inside #if blocks (other than the
 * include guard), as a fork's conditional capabilities do — after the #endif that closes the outermost of them,
 * so that the new define is never conditional on an option it has nothing to do with.
 */
function afterDefine(text: string, d: UapiDefine): number {
  let at = endOfLine(text, d.end);
  let depth = d.guards.length;
  while (depth > 0 && at < text.length) {
    const line = text.slice(at, endOfLine(text, at));
    if (/^\s*#\s*if/.test(line)) depth++;
    else if (/^\s*#\s*endif\b/.test(line)) depth--;
    at = endOfLine(text, at);
  }
  return at;
}

/** The new flag's define, after the highest flag bit of whatever #if branch. */
export function uapiFlagEdit(tree: KernelTree, flag: Flag): Edit {
  const { text, mems } = uapiDefines(tree);
  if (mems.some((d) => d.name === flag.macro))
    throw new InputError(`${SITES.uapi} already defines ${flag.macro}`);
  const { bit } = numbering(tree);
  return [
    SITES.uapi,
    insertAt(text, afterDefine(text, top(mems)), render("uapi-flag.h", { macro: flag.macro, bit })),
  ];
}

/** The capability's define, after the highest capability number of whatever #if branch. */
export function uapiCapEdit(tree: KernelTree, flag: Flag): Edit {
  const { text, caps } = uapiDefines(tree);
  if (caps.some((d) => d.name === flag.capability))
    throw new InputError(`${SITES.uapi} already defines ${flag.capability}`);
  const { cap } = numbering(tree);
  return [
    SITES.uapi,
    insertAt(
      text,
      afterDefine(text, top(caps)),
      render("uapi-cap.h", { capability: flag.capability, number: cap }),
    ),
  ];
}

/** The define with the highest value. */
function top(ds: UapiDefine[]): UapiDefine {
  return ds.filter((d) => d.value !== undefined).reduce((a, b) => (b.value! >= a.value! ? b : a));
}

function archTest(flag: Flag): string[] {
  return flag.arches.length === 1
    ? [`IS_ENABLED(CONFIG_${flag.arches[0]})`]
    : [`(${flag.arches.map((a) => `IS_ENABLED(CONFIG_${a})`).join(" || ")})`];
}

/** check_memory_region_flags(): accept the flag on its architectures, not with incompatible flags. */
export function checkFlagsEdit(tree: KernelTree, flag: Flag, incompatible: readonly string[]): Edit {
  let { text, node } = siteFunctionOrFail(tree, SITES.kvmMain, SITE_FUNCTIONS.checkFlags);
  const mem = parameters(node).params.find((p) => /kvm_userspace_memory_region/.test(p.type))?.name;
  if (!mem)
    throw new InputError(`${SITES.kvmMain}: ${SITE_FUNCTIONS.checkFlags}() has no memory region parameter`);
  const final = descendants(node, "if_statement").find((n) =>
    /flags\s*&\s*~\s*valid_flags/.test(n.childForFieldName("condition")!.text),
  );
  if (!final)
    throw new InputError(
      `${SITES.kvmMain}: ${SITE_FUNCTIONS.checkFlags}() has no 'flags & ~valid_flags' test`,
    );
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
  const v1 = v1FlagsDefine(text);
  if (v1) {
    const close = text.lastIndexOf(")", v1.end);
    if (close < v1.start) throw new InputError(`${SITES.kvmMain}: ${V1_FLAGS} is not a parenthesized list`);
    const line = text.slice(startOfLine(text, close), close);
    const add = width(`${line} | ${flag.macro})`) <= 80 ? ` | ${flag.macro}` : ` | \\\n\t ${flag.macro}`;
    text = insertAt(text, close, add);
  }
  return [SITES.kvmMain, text];
}

/** __kvm_set_memory_region(): the flag may not change on an existing slot. */
export function immutableEdit(tree: KernelTree, flag: Flag): Edit {
  const text = readSite(tree, SITES.kvmMain, "memslot updates");
  const ifs = flagsChangeTests(text);
  if (ifs.length !== 1)
    throw new InputError(
      `${SITES.kvmMain}: expected one '(mem->flags ^ old->flags)' test of an existing slot, found ${ifs.length}`,
    );
  const mem = /\(\s*(\w+)->flags\s*\^/.exec(ifs[0].text)![1];
  const indent = indentAt(text, ifs[0].startIndex);
  const note = comment(`${flag.macro} cannot be set or cleared on an existing slot.`, indent.length);
  return [
    SITES.kvmMain,
    insertAt(
      text,
      endOfLine(text, ifs[0].endIndex),
      render("immutable.c", { indent, mem, macro: flag.macro, comment: note }),
    ),
  ];
}

/** kvm_vm_ioctl_check_extension_generic(): report the capability on the flag's architectures. */
export function capabilityEdit(tree: KernelTree, flag: Flag): Edit {
  const { text, node } = siteFunctionOrFail(tree, SITES.kvmMain, SITE_FUNCTIONS.capGeneric);
  const sw = descendants(node, "switch_statement")[0];
  const def = sw && descendants(sw, "case_statement", (n) => n.text.startsWith("default"))[0];
  if (!def) throw new InputError(`${SITES.kvmMain}: ${SITE_FUNCTIONS.capGeneric}() has no 'default:' case`);
  const indent = indentAt(text, def.startIndex);
  const value = archTest(flag).join(" || ");
  return [
    SITES.kvmMain,
    insertAt(
      text,
      startOfLine(text, def.startIndex),
      render("cap-case.c", { indent, capability: flag.capability, value }),
    ),
  ];
}

/** include/linux/kvm_host.h: kvm_slot_<flag>() after the last kvm_slot_*() helper. */
export function slotHelperEdit(tree: KernelTree, flag: Flag): Edit {
  const text = readSite(tree, SITES.kvmHost, "the memslot helpers");
  const helpers = slotHelpers(tree);
  if (!helpers.length)
    throw new InputError(`${SITES.kvmHost}: no kvm_slot_*() helper to place ${flag.helper}() next to`);
  const last = helpers[helpers.length - 1].node;
  return [
    SITES.kvmHost,
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
  const member = mtMaskMember(tree);
  if (!member) throw new InputError(`${SITES.x86KvmHost}: no get_mt_mask member in kvm_x86_ops`);
  {
    const { list, params } = parameters(member.declarator);
    edits.push([
      SITES.x86KvmHost,
      rewriteParams(tree.read(SITES.x86KvmHost)!, list, [
        ...params.map((p) => p.text),
        ...newParamDecls(add),
      ]),
    ]);
  }
  const sites = mtMaskSites(tree, vmxFn);
  const byFile = new Map<string, SyntaxNode[]>();
  for (const x of [...sites.definitions, ...sites.prototypes])
    byFile.set(x.file, [...(byFile.get(x.file) ?? []), x.declarator]);
  for (const [file, declarators] of [...byFile].sort(([a], [b]) => (a < b ? -1 : 1))) {
    let text = tree.read(file)!;
    // From the bottom of the file up, so that earlier positions stay valid.
    for (const fd of declarators.sort((a, b) => b.startIndex - a.startIndex)) {
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
  const { text, call, fn } = mtMaskCaller(tree);
  const ps = fn ? parameters(fn).params : [];
  const slot = ps.find((p) => /kvm_memory_slot/.test(p.type))?.name;
  const pfn = ps.find((p) => /kvm_pfn_t/.test(p.type))?.name;
  if (!slot || (add.pfn && !pfn))
    throw new InputError(
      `${SITES.spte}: the caller of get_mt_mask has no memslot${add.pfn ? " or PFN" : ""} parameter`,
    );
  const args = call.childForFieldName("arguments")!;
  const old = args.namedChildren.filter((a) => a.type !== "comment").map((a) => a.text.replace(/\s+/g, " "));
  return [SITES.spte, rewriteParams(text, args, [...old, slot, ...(add.pfn ? [pfn!] : [])])];
}

/** api.rst: the flag in KVM_SET_USER_MEMORY_REGION, and a capability section at the end of section 8. */
export function apiEdit(tree: KernelTree, flag: Flag, bit: number): Edit {
  const a = apiSections(readSite(tree, SITES.apiRst, "the API documentation"));
  const lines = a.lines;
  if (a.memRegion < 0) throw new InputError(`${SITES.apiRst}: no KVM_SET_USER_MEMORY_REGION section`);
  if (!a.flagDefines.length || a.flagsParagraph < 0)
    throw new InputError(`${SITES.apiRst}: KVM_SET_USER_MEMORY_REGION does not list its flags as expected`);
  const lastDef = a.flagDefines[a.flagDefines.length - 1];
  const paraEnd = lines.findIndex((l, i) => i > a.flagsParagraph && l.trim() === "");
  const known = a.knownProblems;
  if (!a.capHeadings.length || known < 0)
    throw new InputError(`${SITES.apiRst}: no capability list (section 8) followed by section 9`);
  const number = `8.${Math.max(...a.capHeadings.map((h) => h.n)) + 1}`;
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
  out.splice(lastDef + 1, 0, `  #define ${flag.macro}\t(1UL << ${bit})`);
  return [SITES.apiRst, out.join("\n")];
}

/** The memslot selftest: the flag among the supported ones, and a test of accepting it (and immutability). */
export function selftestEdit(tree: KernelTree, flag: Flag): Edit {
  let text = readSite(tree, SITES.selftest, "the memslot selftest");
  const main = definitionsIn(text, "main")[0]?.node;
  if (!main) throw new InputError(`${SITES.selftest}: no main()`);
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
    throw new InputError(`${SITES.selftest}: main() calls no test_*() function to place the new test after`);
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
  const inv = definitionsIn(text, SITE_FUNCTIONS.invalidFlagsTest)[0]?.node;
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
  return [SITES.selftest, text];
}

/** mem-dma: an exported helper next to the x86 PAT code, and its declaration next to its neighbour's. */
export function patHelperEdits(tree: KernelTree): Edit[] {
  const c = readSite(tree, SITES.patC, "the PAT helper");
  const exp = /^EXPORT_SYMBOL_GPL\(pat_pfn_immune_to_uc_mtrr\);$/m.exec(c);
  if (!exp || !/lookup_memtype\s*\(/.test(c))
    throw new InputError(
      `${SITES.patC}: no lookup_memtype() and pat_pfn_immune_to_uc_mtrr() to place ${PAT_HELPER}() next to`,
    );
  const headers = tree.list(SITES.asmInclude, (f) => f.endsWith(".h"));
  const header = headers.find((h) =>
    /extern bool pat_pfn_immune_to_uc_mtrr\(unsigned long pfn\);/.test(tree.read(h) ?? ""),
  );
  if (!header) throw new InputError(`no header declares pat_pfn_immune_to_uc_mtrr()`);
  const h = tree.read(header)!;
  const decl = /^extern bool pat_pfn_immune_to_uc_mtrr\(unsigned long pfn\);$/m.exec(h)!;
  return [
    [SITES.patC, insertAt(c, endOfLine(c, exp.index), render("pat-helper.c", { fn: PAT_HELPER }))],
    [header, insertAt(h, endOfLine(h, decl.index), render("pat-helper.h", { fn: PAT_HELPER }))],
  ];
}

/** The asm header that declares the PAT helper (as the PAT helper patch left the tree). */
export function patHelperHeader(tree: KernelTree): string {
  const h = tree
    .list(SITES.asmInclude, (f) => f.endsWith(".h"))
    .find((f) => new RegExp(`\\b${PAT_HELPER}\\s*\\(`).test(tree.read(f) ?? ""));
  if (!h) throw new InputError(`no header under ${SITES.asmInclude} declares ${PAT_HELPER}()`);
  return h.replace(/^arch\/x86\/include\//, "");
}

/** `#include <header>` in a file that lacks it, placed among its <asm/...> (or <linux/...>) includes by name. */
export function includeEdit(tree: KernelTree, file: string, header: string): Edit {
  const text = readSite(tree, file, `#include <${header}>`);
  if (new RegExp(`^#include <${header.replace(/[.+]/g, "\\$&")}>`, "m").test(text)) return [file, text];
  const dir = header.split("/")[0];
  const lines = [...text.matchAll(new RegExp(`^#include <${dir}/[^>]+>$`, "gm"))];
  if (!lines.length)
    throw new InputError(`${file}: no #include <${dir}/...> to place #include <${header}> next to`);
  const after = lines.find((m) => m[0].slice(10, -1) > header);
  const at = after ? after.index! : endOfLine(text, lines[lines.length - 1].index!);
  return [file, insertAt(text, at, `#include <${header}>\n`)];
}
