// Emit stage (view model): policy IR -> the C view model of vmx_get_mt_mask() for one tree: each rule as an `if` with its
// provenance comment, in the C spellings this tree provides, rendered through templates/vmx-*.hbs.

import { InputError } from "../spec/errors.js";
import type { Cond, Outcome, Policy, Rule } from "../spec/ir.js";
import { typeName } from "../spec/memtypes.js";
import {
  inputDef,
  CONFIG_PREFIX,
  paramNames,
  SLOT_FLAG,
  type ArgPattern,
  type CSpelling,
  type InputValue,
} from "../spec/vocabulary.js";
import type { Preprocessor } from "../kernel/cpp.js";
import { visibleName } from "../kernel/locate.js";
import type { KernelTree } from "../kernel/tree.js";
import { comment, wrapCondition } from "./cstyle.js";
import type { Flag } from "../spec/flags.js";

/** The names by which the function refers to what it is handed (from its own parameter list). */
export interface Params {
  vcpu: string;
  gfn: string;
  /** Every parameter by name, for inputs the vocabulary spells as a parameter (is_mmio). */
  names: readonly string[];
  slot?: string;
  pfn?: string;
}

/** Memory-type constants by code, newest spelling last: the first one the tree defines is used. */
const TYPE_MACROS: Record<number, string[]> = {
  0: ["MTRR_TYPE_UNCACHABLE", "X86_MEMTYPE_UC"],
  1: ["MTRR_TYPE_WRCOMB", "X86_MEMTYPE_WC"],
  4: ["MTRR_TYPE_WRTHROUGH", "X86_MEMTYPE_WT"],
  5: ["MTRR_TYPE_WRPROT", "X86_MEMTYPE_WP"],
  6: ["MTRR_TYPE_WRBACK", "X86_MEMTYPE_WB"],
  7: ["X86_MEMTYPE_UC_MINUS"],
};

export class Spellings {
  private present = new Map<string, boolean>();

  constructor(
    readonly tree: KernelTree,
    readonly pp: Preprocessor,
    readonly params: Params,
    readonly flag: Flag | undefined,
  ) {}

  /** Does the tree (as the function's file sees it) provide `name` — a macro or a function? */
  has(name: string): boolean {
    let v = this.present.get(name);
    if (v === undefined) this.present.set(name, (v = visibleName(this.tree, this.pp, name)));
    return v;
  }

  typeMacro(code: number): string {
    const m = TYPE_MACROS[code]?.find((n) => this.pp.lookup(n).length > 0);
    if (!m)
      throw new InputError(
        `the tree defines no constant for memory type ${typeName(code)} (${TYPE_MACROS[code]?.join(", ") ?? code})`,
      );
    return m;
  }

  private arg(p: ArgPattern): string {
    if ("macro" in p) return p.macro;
    switch (p.role) {
      case "vcpu":
        return this.params.vcpu;
      case "kvm":
        return `${this.params.vcpu}->kvm`;
      case "gfn":
        return this.params.gfn;
      case "slot":
        if (!this.params.slot)
          throw new InputError("the policy reads the memslot, but vmx_get_mt_mask() is not passed one");
        return this.params.slot;
      case "pfn":
        if (!this.params.pfn)
          throw new InputError("the policy reads the host PFN, but vmx_get_mt_mask() is not passed one");
        return this.params.pfn;
    }
  }

  /** The C expression that reads an input (true when the input is true, the value for memory types). */
  read(input: string): string {
    if (input.startsWith(CONFIG_PREFIX)) return `IS_ENABLED(${input.slice(CONFIG_PREFIX.length)})`;
    const param = this.params.names.find((n) => paramNames(input).includes(n));
    if (param) return param;
    if (input === SLOT_FLAG.input) {
      if (!this.flag)
        throw new InputError("the policy reads slotFlag, but no memslot flag was given (--flag)");
      return `${this.flag.helper}(${this.arg({ role: "slot" })})`;
    }
    const def = inputDef(input);
    const calls = (def?.c ?? []).filter((c): c is Extract<CSpelling, { kind: "call" }> => c.kind === "call");
    const c = calls.find(
      (s) => this.has(s.fn) && s.args.every((a) => !("macro" in a) || this.pp.lookup(a.macro).length > 0),
    );
    // An input of the user's (kspec.config.json) is written as its first shape.
    const shape = def?.c.find((x) => x.kind === "shape");
    if (!c && shape?.kind === "shape") return `(${shape.text})`;
    if (!c)
      throw new InputError(
        `the tree provides no spelling of ${input} (${calls.map((s) => s.fn).join(", ")})`,
      );
    const call = `${c.fn}(${c.args.map((a) => this.arg(a)).join(", ")})`;
    return typeof c.returns === "object" && "word" in c.returns ? `(${call} & ${c.returns.word})` : call;
  }

  literal(c: Cond): string {
    const def = inputDef(c.input);
    if (c.input.startsWith(CONFIG_PREFIX) || def?.kind === "bool") {
      return c.values[0] === true ? this.read(c.input) : `!${this.read(c.input)}`;
    }
    const v = this.read(c.input);
    const eq = (x: InputValue) => `${v} == ${this.typeMacro(typeCode(x))}`;
    return c.values.length === 1 ? eq(c.values[0]) : `(${c.values.map(eq).join(" || ")})`;
  }
}

function typeCode(v: InputValue): number {
  const codes: Record<string, number> = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6, "UC-": 7 };
  return codes[String(v)];
}

export interface RuleView {
  comment: string;
  /** The `if (...)` line(s), indented. */
  test: string;
  /** The statement(s) under it: a return, or a braced block with a local for mapped types. */
  action: string;
}

export interface FunctionView {
  rules: RuleView[];
  defaultComment: string;
  defaultAction: string;
}

/** The comment above each generated branch: which policy and rule it implements, and why. */
function provenance(r: { name: string; why?: string; origin: string }): string {
  // No file names here: checkpatch rightly objects to a file naming itself.
  const why = r.why ? `: ${r.why.replace(/\s+/g, " ").trim()}` : ".";
  return `kspec ${r.origin}, rule ${r.name}${why}`;
}

function returnOf(o: Outcome, s: Spellings, tabs: number): string {
  const ind = "\t".repeat(tabs);
  const shifted = (expr: string) =>
    o.ipat ? `(${expr} << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT` : `${expr} << VMX_EPT_MT_EPTE_SHIFT`;
  if (o.type.kind === "const") return `${ind}return ${shifted(s.typeMacro(o.type.code))};`;
  const input = o.type.input;
  const map = o.type.map;
  const remapped = Object.entries(map).filter(([v, code]) => typeCode(v) !== code);
  if (remapped.length === 0) return `${ind}return ${shifted(s.read(input))};`;
  // A memory type drawn from an input with some values remapped (UC- -> UC): a local, then the fix-ups.
  const lines = [`${ind}u8 type = ${s.read(input)};`, ""];
  for (const [v, code] of remapped) {
    lines.push(`${ind}/* ${v} exists only in PAT: an EPT entry cannot hold it. */`);
    lines.push(`${ind}if (type == ${s.typeMacro(typeCode(v))})`, `${ind}\ttype = ${s.typeMacro(code)};`);
  }
  lines.push(`${ind}return ${shifted("type")};`);
  return lines.join("\n");
}

function ruleView(r: Rule, s: Spellings): RuleView {
  const terms = r.when.map((c) => s.literal(c));
  const test = wrapCondition(
    1,
    "if (",
    terms.map((t, i) => (i === terms.length - 1 ? `${t})` : t)),
  );
  const ret = returnOf(r.then, s, 2);
  const block = ret.includes("\n");
  return {
    comment: comment(provenance(r)),
    test: block ? `${test} {` : test,
    action: block ? `${ret}\n\t}` : ret,
  };
}

export function functionView(p: Policy, rules: readonly Rule[], s: Spellings): FunctionView {
  return {
    rules: rules.map((r) => ruleView(r, s)),
    defaultComment: comment(provenance({ name: "default", why: p.default.why, origin: p.default.origin })),
    defaultAction: returnOf(p.default, s, 1),
  };
}
