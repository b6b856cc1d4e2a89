// Locate stage (KVM sites): the one table of where KVM's memslot-flag plumbing lives in a kernel tree and how to
// find each site — the uapi flag and capability defines, check_memory_region_flags(), the capability switch,
// the kvm_slot_*() helpers, get_mt_mask's member, definitions, prototypes and callers, the api.rst sections.
// The generator edits these sites and the checker checks them; when the kernel moves one, this file changes.

import { InputError } from "../spec/errors.js";
import { Preprocessor, scanDirectives, type MacroDef } from "./cpp.js";
import { DEFAULT_FUNCTION, definitionsIn, mentions, nodeAt } from "./locate.js";
import { MacroConstants } from "./macros.js";
import { declaredName, descendants, functionDeclarator, lineOf, parseC, type SyntaxNode } from "./parse.js";
import { PerText, type KernelTree } from "./tree.js";

/** The files of the sites. */
export const SITES = {
  uapi: "include/uapi/linux/kvm.h",
  kvmMain: "virt/kvm/kvm_main.c",
  kvmHost: "include/linux/kvm_host.h",
  x86KvmHost: "arch/x86/include/asm/kvm_host.h",
  x86Kvm: "arch/x86/kvm/x86.c",
  x86KvmDir: "arch/x86/kvm",
  spte: "arch/x86/kvm/mmu/spte.c",
  apiRst: "Documentation/virt/kvm/api.rst",
  selftest: "tools/testing/selftests/kvm/set_memory_region_test.c",
  selftestDir: "tools/testing/selftests/kvm",
  patC: "arch/x86/mm/pat/memtype.c",
  asmInclude: "arch/x86/include/asm",
} as const;

/** The functions of the sites. */
export const SITE_FUNCTIONS = {
  checkFlags: "check_memory_region_flags",
  capGeneric: "kvm_vm_ioctl_check_extension_generic",
  capX86: "kvm_vm_ioctl_check_extension",
  invalidFlagsTest: "test_invalid_memory_region_flags",
} as const;

export const FLAG_PREFIX = "KVM_MEM_";
export const CAP_PREFIX = "KVM_CAP_";
/** The kvm_x86_ops member whose VMX implementation is the policy function. */
export const MT_MASK_MEMBER = "get_mt_mask";
export const SLOT_HELPER = /^kvm_slot_\w+$/;

export function readSite(tree: KernelTree, file: string, why: string): string {
  const t = tree.read(file);
  if (t === undefined) throw new InputError(`${file} is missing from the tree (needed for ${why})`);
  return t;
}

// ---- uapi: flags and capabilities -----------------------------------------------------------------------

export interface UapiDefine extends MacroDef {
  /** Its own value (each definition evaluated, in every #if branch). */
  value?: bigint;
  /** The conditions around it other than the header's include guard. */
  guards: string[];
}

/** The include guard of a header: the outermost #ifndef X that the header then #defines. */
function withoutIncludeGuard(conds: readonly string[], defs: readonly MacroDef[]): string[] {
  const g = /^ifndef (\w+)$/.exec(conds[0] ?? "")?.[1];
  return g && defs.some((d) => d.name === g && d.conds.length === 1) ? conds.slice(1) : [...conds];
}

/** Every KVM_MEM_* and KVM_CAP_* definition of the uapi header, with its value and its conditions. */
export function uapiDefines(tree: KernelTree): {
  text: string;
  mems: UapiDefine[];
  caps: UapiDefine[];
  constants: MacroConstants;
} {
  const text = readSite(tree, SITES.uapi, "the KVM uapi");
  const pp = new Preprocessor(tree, SITES.uapi);
  const constants = new MacroConstants(pp);
  const defs = pp.scan(SITES.uapi).defines;
  const one = (d: MacroDef): UapiDefine => {
    const v = constants.evaluate(d);
    return { ...d, value: typeof v === "bigint" ? v : undefined, guards: withoutIncludeGuard(d.conds, defs) };
  };
  return {
    text,
    mems: defs.filter((d) => d.name.startsWith(FLAG_PREFIX) && !d.params).map(one),
    caps: defs.filter((d) => d.name.startsWith(CAP_PREFIX) && !d.params).map(one),
    constants,
  };
}

/** The bit a memslot flag occupies, when its value is a single bit. */
export function flagBit(v: bigint | undefined): number | undefined {
  return v !== undefined && v > 0n && (v & (v - 1n)) === 0n ? v.toString(2).length - 1 : undefined;
}

/**
 * The numbers a new flag and capability get in this tree: the next free bit and the next capability number,
 * over the definitions of every #if branch (a fork's conditional capabilities included).
 */
export function numbering(tree: KernelTree): {
  bit: number;
  cap: number;
  usedBits: number[];
  lastCap: number;
} {
  const { mems, caps } = uapiDefines(tree);
  const bits = mems.map((d) => flagBit(d.value)).filter((b): b is number => b !== undefined);
  const numbers = caps
    .map((d) => d.value)
    .filter((v): v is bigint => v !== undefined)
    .map(Number);
  if (bits.length === 0 || numbers.length === 0)
    throw new InputError(`${SITES.uapi}: no ${FLAG_PREFIX}* flags or ${CAP_PREFIX}* numbers found`);
  return {
    bit: Math.max(...bits) + 1,
    cap: Math.max(...numbers) + 1,
    usedBits: [...new Set(bits)].sort((a, b) => a - b),
    lastCap: Math.max(...numbers),
  };
}

// ---- functions of the sites -----------------------------------------------------------------------------

/** A function definition in a site file (parsed from its own range), or undefined. */
export function siteFunction(
  tree: KernelTree,
  file: string,
  fn: string,
): { text: string; node: SyntaxNode } | undefined {
  const text = tree.read(file);
  if (!text) return undefined;
  const d = definitionsIn(text, fn);
  return d.length ? { text, node: d[d.length - 1].node } : undefined;
}

export function siteFunctionOrFail(
  tree: KernelTree,
  file: string,
  fn: string,
): { text: string; node: SyntaxNode } {
  readSite(tree, file, `${fn}()`);
  const f = siteFunction(tree, file, fn);
  if (!f) throw new InputError(`${file}: no definition of ${fn}()`);
  return f;
}

/** Lines where an identifier is used inside a function of a file. */
export function usesIn(tree: KernelTree, file: string, fn: string, ident: string): number[] {
  const text = tree.read(file);
  if (!text || !text.includes(ident)) return [];
  return definitionsIn(text, fn).flatMap((d) =>
    descendants(d.node, "identifier", (n) => n.text === ident).map(lineOf),
  );
}

/** Where check_memory_region_flags() accepts a flag (its lines). */
export function flagAccepted(tree: KernelTree, macro: string): number[] {
  return usesIn(tree, SITES.kvmMain, SITE_FUNCTIONS.checkFlags, macro);
}

/** Where KVM_CHECK_EXTENSION reports a capability: the generic switch, or x86's. */
export function capabilityReport(tree: KernelTree, cap: string): { file: string; line: number } | undefined {
  for (const [file, fn] of [
    [SITES.kvmMain, SITE_FUNCTIONS.capGeneric],
    [SITES.x86Kvm, SITE_FUNCTIONS.capX86],
  ] as const) {
    const line = usesIn(tree, file, fn, cap)[0];
    if (line) return { file, line };
  }
  return undefined;
}

/** The kvm_slot_*() helper definitions of include/linux/kvm_host.h, in order. */
export function slotHelpers(tree: KernelTree): { name: string; node: SyntaxNode }[] {
  const text = tree.read(SITES.kvmHost);
  if (!text) return [];
  return slotHelpersOf.get(SITES.kvmHost, text, () =>
    descendants(parseC(text).rootNode, "function_definition").flatMap((node) => {
      const name = declaredName(functionDeclarator(node) ?? null);
      return name && SLOT_HELPER.test(name) ? [{ name, node }] : [];
    }),
  );
}

/** The kvm_slot_*() helper that tests a flag, if there is one. */
export function slotHelperFor(tree: KernelTree, macro: string): { name: string; line: number } | undefined {
  const h = slotHelpers(tree).find((x) => x.node.text.includes(macro));
  return h && { name: h.name, line: lineOf(h.node) };
}

// ---- get_mt_mask ----------------------------------------------------------------------------------------

/** The get_mt_mask member of kvm_x86_ops, and its function declarator. */
export function mtMaskMember(tree: KernelTree): { node: SyntaxNode; declarator: SyntaxNode } | undefined {
  const text = tree.read(SITES.x86KvmHost);
  if (!text) return undefined;
  return memberOf.get(SITES.x86KvmHost, text, () => {
    const member = descendants(parseC(text).rootNode, "field_declaration", (n) =>
      new RegExp(`\\(\\s*\\*\\s*${MT_MASK_MEMBER}\\s*\\)`).test(n.text),
    )[0];
    const declarator = member && descendants(member, "function_declarator")[0];
    return member && declarator ? { node: member, declarator } : undefined;
  });
}

export interface MtMaskSites {
  /** Definitions of the VMX implementation, with their function declarators. */
  definitions: { file: string; node: SyntaxNode; declarator: SyntaxNode }[];
  /** Prototypes of it (x86_ops.h in newer trees). */
  prototypes: { file: string; node: SyntaxNode; declarator: SyntaxNode }[];
  /** Calls through the member or of the implementation. */
  calls: { file: string; node: SyntaxNode }[];
}

/** Every definition, prototype and call of get_mt_mask under arch/x86/kvm. */
export function mtMaskSites(tree: KernelTree, vmxFn = DEFAULT_FUNCTION): MtMaskSites {
  const out: MtMaskSites = { definitions: [], prototypes: [], calls: [] };
  for (const file of tree.list(SITES.x86KvmDir, (f) => /\.[ch]$/.test(f))) {
    const text = tree.read(file)!;
    if (!text.includes(MT_MASK_MEMBER)) continue;
    // What one file holds is kept with its text: a series changes few of these files at each step.
    const found = sitesOf.get(file, text, () => new Map()).get(vmxFn) ?? sitesIn(file, text, vmxFn);
    sitesOf.get(file, text, () => new Map()).set(vmxFn, found);
    out.definitions.push(...found.definitions);
    out.prototypes.push(...found.prototypes);
    out.calls.push(...found.calls);
  }
  return out;
}

function sitesIn(file: string, text: string, vmxFn: string): MtMaskSites {
  const out: MtMaskSites = { definitions: [], prototypes: [], calls: [] };
  for (const d of definitionsIn(text, vmxFn))
    out.definitions.push({ file, node: d.node, declarator: functionDeclarator(d.node)! });
  // Only the nodes around each mention are looked at, each in a parse of its own top-level item: x86.c alone
  // has thousands of declarations and calls.
  const seen = new Set<string>();
  const once = (n: SyntaxNode) => {
    const k = `${n.type}:${n.startIndex}:${n.endIndex}`;
    return !seen.has(k) && seen.add(k);
  };
  for (const i of mentions(text, vmxFn)) {
    for (let n: SyntaxNode | null = nodeAt(text, i); n; n = n.parent) {
      if (n.type !== "declaration" || !once(n)) continue;
      for (const x of n.childrenForFieldName("declarator")) {
        const fd = functionDeclarator(x);
        if (fd && declaredName(fd) === vmxFn) out.prototypes.push({ file, node: n, declarator: fd });
      }
    }
  }
  for (const i of mentions(text, MT_MASK_MEMBER, { suffix: true })) {
    for (let n: SyntaxNode | null = nodeAt(text, i); n; n = n.parent) {
      if (n.type !== "call_expression") continue;
      const fn = n.childForFieldName("function")!;
      if (fn.startIndex <= i && i < fn.endIndex && once(n)) out.calls.push({ file, node: n });
    }
  }
  const byPosition = (a: { node: SyntaxNode }, b: { node: SyntaxNode }) =>
    a.node.startIndex - b.node.startIndex;
  out.prototypes.sort(byPosition);
  out.calls.sort(byPosition);
  return out;
}

const sitesOf = new PerText<Map<string, MtMaskSites>>();
const memberOf = new PerText<{ node: SyntaxNode; declarator: SyntaxNode } | undefined>();
const slotHelpersOf = new PerText<{ name: string; node: SyntaxNode }[]>();
const flagsChangeTestsOf = new PerText<SyntaxNode[]>();

/** The caller of get_mt_mask that makes SPTEs (make_spte()): its call, and the function around it. */
export function mtMaskCaller(tree: KernelTree): { text: string; call: SyntaxNode; fn: SyntaxNode | null } {
  const text = readSite(tree, SITES.spte, "the get_mt_mask call");
  const calls = descendants(parseC(text).rootNode, "call_expression", (n) =>
    n.childForFieldName("function")!.text.includes(MT_MASK_MEMBER),
  );
  if (calls.length !== 1)
    throw new InputError(`${SITES.spte}: expected one ${MT_MASK_MEMBER} call, found ${calls.length}`);
  let fn: SyntaxNode | null = calls[0];
  while (fn && fn.type !== "function_definition") fn = fn.parent;
  return { text, call: calls[0], fn };
}

// ---- api.rst --------------------------------------------------------------------------------------------

export interface ApiSections {
  lines: string[];
  /** The `4.N KVM_SET_USER_MEMORY_REGION` heading, and the next section's. */
  memRegion: number;
  memRegionEnd: number;
  /** The `#define KVM_MEM_*` lines listed there, and the "The flags field supports" paragraph. */
  flagDefines: number[];
  flagsParagraph: number;
  /** The `8.N KVM_CAP_*` headings (their numbers N), and `9. Known KVM API problems`. */
  capHeadings: { line: number; n: number }[];
  knownProblems: number;
}

export function apiSections(text: string): ApiSections {
  const lines = text.split("\n");
  const memRegion = lines.findIndex((l) => /^4\.\d+ KVM_SET_USER_MEMORY_REGION$/.test(l));
  const memRegionEnd = lines.findIndex((l, i) => i > memRegion + 1 && /^4\.\d+ /.test(l));
  const inSection = (i: number) => memRegion >= 0 && i > memRegion && (memRegionEnd < 0 || i < memRegionEnd);
  return {
    lines,
    memRegion,
    memRegionEnd,
    flagDefines: lines.flatMap((l, i) => (inSection(i) && /^\s+#define KVM_MEM_\w+/.test(l) ? [i] : [])),
    flagsParagraph: lines.findIndex((l, i) => inSection(i) && /^The flags field supports/.test(l)),
    capHeadings: lines.flatMap((l, i) => {
      const m = /^8\.(\d+) KVM_CAP_/.exec(l);
      return m ? [{ line: i, n: Number(m[1]) }] : [];
    }),
    knownProblems: lines.findIndex((l) => /^9\. Known KVM API problems/.test(l)),
  };
}

/** The first line (1-based) of api.rst that mentions a name, if any. */
export function apiMention(tree: KernelTree, name: string): number | undefined {
  const i = (tree.read(SITES.apiRst) ?? "").split("\n").findIndex((l) => l.includes(name));
  return i >= 0 ? i + 1 : undefined;
}

// ---- kvm_main.c -----------------------------------------------------------------------------------------

/** The flags the v1 KVM_SET_USER_MEMORY_REGION may carry, in trees with KVM_SET_USER_MEMORY_REGION2. */
export const V1_FLAGS = "KVM_SET_USER_MEMORY_REGION_V1_FLAGS";

/** The V1_FLAGS definition of a kvm_main.c text, if it has one. */
export function v1FlagsDefine(text: string): MacroDef | undefined {
  return scanDirectives(text, SITES.kvmMain).defines.find((d) => d.name === V1_FLAGS);
}

/** The `if ((mem->flags ^ old->flags) ...)` tests of __kvm_set_memory_region(): where flag changes are refused. */
export function flagsChangeTests(text: string): SyntaxNode[] {
  return flagsChangeTestsOf.get(SITES.kvmMain, text, () =>
    descendants(parseC(text).rootNode, "if_statement").filter((n) =>
      /\(\s*(\w+)->flags\s*\^\s*old->flags\s*\)/.test(n.childForFieldName("condition")!.text),
    ),
  );
}
