// Bind stage: how C shapes stand for vocabulary inputs, read from the vocabulary's own entries (spec/vocabulary)
// — a parameter spelling (is_mmio), a recognised call (kvm_arch_has_noncoherent_dma(kvm)), a register bit
// (kvm_read_cr0(vcpu) & X86_CR0_CD), the memslot's flags word — and which flag macros stand for slotFlag. The
// interpreter asks here; it keeps no spelling of its own.

import type { Env } from "../spec/evaluate.js";
import { need } from "../spec/evaluate.js";
import { defaultFlagMacros, loadFlag } from "../spec/flags.js";
import {
  FAMILIES,
  inputDef,
  memtypeCode,
  paramInput,
  SLOT_FLAG,
  VOCABULARY,
  type ArgPattern,
  type CSpelling,
  type Role,
} from "../spec/vocabulary.js";
import { int, type Fault, type Val, type WordV } from "./values.js";

export type CallSpelling = Extract<CSpelling, { kind: "call" }>;

/** Parameter types that make a value of a role: the function is handed these, never computes them. */
const ROLE_TYPES: Readonly<Record<string, Role>> = {
  "struct kvm_vcpu": "vcpu",
  "struct kvm": "kvm",
  "struct kvm_memory_slot": "slot",
  gfn_t: "gfn",
  kvm_pfn_t: "pfn",
};

/** The role of a parameter from its type as written ("const struct kvm_memory_slot"). */
export function roleOfType(typeText: string): Role | undefined {
  return ROLE_TYPES[
    typeText
      .replace(/\bconst\b/g, "")
      .replace(/\s+/g, " ")
      .trim()
  ];
}

export { paramInput };

/** The field of a memslot whose bits are memslot flags (`slot->flags`), and the input they stand for. */
export const SLOT_FLAG_FIELD = SLOT_FLAG.field;
export const SLOT_FLAG_INPUT = SLOT_FLAG.input;

/** The recognised calls of a function name, each with the input it reads. */
export function callSpellings(fn: string): { input: string; c: CallSpelling }[] {
  return VOCABULARY.flatMap((d) =>
    d.c.filter((c): c is CallSpelling => c.kind === "call" && c.fn === fn).map((c) => ({ input: d.name, c })),
  );
}

export type MacroValue = (name: string) => bigint | Fault;

/** Is a function one a family of inputs is tested with (kvm_check_has_quirk, static_cpu_has...)? */
export function isFamilyCall(fn: string): boolean {
  return FAMILIES.some((f) => f.calls.includes(fn));
}

/**
 * A call of a family with a member's macro as its argument (kvm_check_has_quirk(kvm, KVM_X86_QUIRK_X)): the
 * member's input and spelling. Only a macro the tree defines, named as such: anything else binds nothing.
 */
export function familyCall(
  fn: string,
  argNodes: readonly { type: string; text: string }[],
  args: readonly Val[],
  macro: MacroValue,
): { input: string; c: CallSpelling } | undefined {
  for (const f of FAMILIES) {
    if (!f.calls.includes(fn)) continue;
    const last = argNodes[argNodes.length - 1];
    if (!last || last.type !== "identifier" || !last.text.startsWith(f.macroPrefix)) continue;
    if (typeof macro(last.text) !== "bigint") continue;
    const def = inputDef(`${f.prefix}${last.text}`);
    const c = def?.c.find(
      (x): x is CallSpelling =>
        x.kind === "call" &&
        x.fn === fn &&
        x.args.length === args.length &&
        x.args.every((p, i) => argMatches(p, args[i], macro)),
    );
    if (def && c) return { input: def.name, c };
  }
  return undefined;
}

/** Does an argument match a spelling's pattern: an opaque handle of the role, or the tree's value of a macro? */
export function argMatches(p: ArgPattern, v: Val, macro: MacroValue): boolean {
  if ("role" in p) return v.k === "opaque" && v.role === p.role;
  const want = macro(p.macro);
  return typeof want === "bigint" && v.k === "int" && v.v === want;
}

/** What a recognised call returns for an assignment of the inputs (reading the input asks for it). */
export function predicate(input: string, c: CallSpelling, env: Env, macro: MacroValue): Val | Fault {
  const r = c.returns;
  if (r === "bool") return int(need(env, input) === true);
  if (r === "memtype") return int(memtypeCode(need(env, input)));
  const name = "bits" in r ? r.bits : r.word;
  const m = macro(name);
  if (typeof m !== "bigint") return m;
  if ("word" in r) return { k: "word", desc: `${c.fn}()`, bits: [{ mask: m, input, macro: name }] };
  return int(need(env, input) === true ? m : 0n);
}

/** `slot->flags`: a word whose bits for the given flag macros are the slotFlag input. */
export function slotFlagsWord(desc: string, flagMacros: readonly string[], macro: MacroValue): WordV {
  const bits: WordV["bits"] = [];
  for (const name of flagMacros) {
    const v = macro(name);
    if (typeof v === "bigint") bits.push({ mask: v, input: SLOT_FLAG_INPUT, macro: name });
  }
  return { k: "word", desc, bits };
}

/**
 * Which KVM_MEM_* macros stand for slotFlag — decided here only: the named flag spec's, else every built-in
 * flag's together with the flags a patch series introduces.
 */
export async function slotFlagMacros(
  o: { flag?: string; introduced?: readonly string[] } = {},
): Promise<string[]> {
  if (o.flag) return [(await loadFlag(o.flag)).macro];
  return [...new Set([...(await defaultFlagMacros()), ...(o.introduced ?? [])])];
}
