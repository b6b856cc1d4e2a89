// Bind stage (vocabulary): the vocabulary — every input a memory-type policy may read, its domain, and the C spellings by
// which kernel trees read it. The checker recognises these spellings and the generator emits them: one table.

import { activeConfig } from "./config.js";
import { closest } from "./suggest.js";
import { EPT_TYPES, PAT_TYPES, TYPE_CODE } from "./memtypes.js";

import type { InputValue } from "./ir.js";

export type { InputValue };

/** Opaque values the C function is handed, named by what they are rather than by the parameter's spelling. */
export type Role = "vcpu" | "kvm" | "gfn" | "slot" | "pfn";

/** An argument pattern of a recognised call: an opaque value of a role, or the tree's value of a macro. */
export type ArgPattern = { role: Role } | { macro: string };

/**
 * What a recognised call returns, as a function of the input:
 * - `bool`: 1 when the input is true, 0 when false;
 * - `bits`: the value of `macro` when true, 0 when false (kvm_read_cr0_bits() masks the register);
 * - `word`: a register whose bit `macro` is the input and whose other bits are unknown (kvm_read_cr0());
 * - `memtype`: the memory-type code (MTRR/PAT encoding) of the input's value.
 */
export type Returns = "bool" | "memtype" | { bits: string } | { word: string };

export type CSpelling =
  | { kind: "param"; names: readonly string[]; note?: string }
  /** A C expression written by the user (kspec.config.json), matched structurally; nonzero is true. */
  | { kind: "shape"; text: string; note?: string }
  | { kind: "call"; fn: string; args: readonly ArgPattern[]; returns: Returns; note?: string }
  /** `slot->flags & <flag macro>`, the flag macro given by the memslot-flag spec in use. */
  | { kind: "slot-flag"; field: string; note?: string };

export interface InputDef {
  name: string;
  kind: "bool" | "enum";
  domain: readonly InputValue[];
  doc: string;
  /** C spellings, newest first: the generator emits the first one the target tree provides. */
  c: readonly CSpelling[];
}

const BOOL: readonly InputValue[] = [false, true];

/** The table as written, its literal types kept: BuiltinInputs is derived from it. */
const TABLE = [
  {
    name: "isMmio",
    kind: "bool",
    domain: BOOL,
    doc: "the host PFN is MMIO (reserved page mapped UC/UC-/WC by the host, or no struct page and not E820 RAM)",
    c: [{ kind: "param", names: ["is_mmio"] }],
  },
  {
    name: "noncoherentDma",
    kind: "bool",
    domain: BOOL,
    doc: "the VM has a device doing non-coherent DMA (VFIO without IOMMU snoop control)",
    c: [{ kind: "call", fn: "kvm_arch_has_noncoherent_dma", args: [{ role: "kvm" }], returns: "bool" }],
  },
  {
    name: "cr0Cd",
    kind: "bool",
    domain: BOOL,
    doc: "the guest has set CR0.CD (caching disabled)",
    c: [
      {
        kind: "call",
        fn: "kvm_is_cr0_bit_set",
        args: [{ role: "vcpu" }, { macro: "X86_CR0_CD" }],
        returns: "bool",
      },
      {
        kind: "call",
        fn: "kvm_read_cr0_bits",
        args: [{ role: "vcpu" }, { macro: "X86_CR0_CD" }],
        returns: { bits: "X86_CR0_CD" },
      },
      { kind: "call", fn: "kvm_read_cr0", args: [{ role: "vcpu" }], returns: { word: "X86_CR0_CD" } },
    ],
  },
  {
    name: "quirkCdNwCleared",
    kind: "bool",
    domain: BOOL,
    doc: "KVM_X86_QUIRK_CD_NW_CLEARED is enabled (CR0.CD=1 treated as WB)",
    c: [
      {
        kind: "call",
        fn: "kvm_check_has_quirk",
        args: [{ role: "kvm" }, { macro: "KVM_X86_QUIRK_CD_NW_CLEARED" }],
        returns: "bool",
      },
    ],
  },
  {
    name: "quirkIgnoreGuestPat",
    kind: "bool",
    domain: BOOL,
    doc: "KVM_X86_QUIRK_IGNORE_GUEST_PAT is enabled (force WB|IPAT when there is no non-coherent DMA)",
    c: [
      {
        kind: "call",
        fn: "kvm_check_has_quirk",
        args: [{ role: "kvm" }, { macro: "KVM_X86_QUIRK_IGNORE_GUEST_PAT" }],
        returns: "bool",
      },
    ],
  },
  {
    name: "selfSnoop",
    kind: "bool",
    domain: BOOL,
    doc: "the CPU self-snoops (X86_FEATURE_SELFSNOOP): aliases with conflicting types are safe",
    c: [
      { kind: "call", fn: "static_cpu_has", args: [{ macro: "X86_FEATURE_SELFSNOOP" }], returns: "bool" },
      { kind: "call", fn: "boot_cpu_has", args: [{ macro: "X86_FEATURE_SELFSNOOP" }], returns: "bool" },
      {
        kind: "call",
        fn: "cpu_feature_enabled",
        args: [{ macro: "X86_FEATURE_SELFSNOOP" }],
        returns: "bool",
      },
    ],
  },
  {
    name: "slotFlag",
    kind: "bool",
    domain: BOOL,
    doc: "the memslot carries the new flag (KVM_MEM_NON_COHERENT_DMA, KVM_MEM_WC or KVM_MEM_DMA)",
    c: [
      {
        kind: "slot-flag",
        field: "flags",
        note: "kvm_slot_<flag>(slot) is a static inline helper; it is inlined down to slot->flags & KVM_MEM_<FLAG>",
      },
    ],
  },
  {
    name: "guestMtrr",
    kind: "enum",
    domain: EPT_TYPES,
    doc: "the guest MTRR type of the GFN",
    c: [
      {
        kind: "call",
        fn: "kvm_mtrr_get_guest_memory_type",
        args: [{ role: "vcpu" }, { role: "gfn" }],
        returns: "memtype",
      },
    ],
  },
  {
    name: "hostPat",
    kind: "enum",
    domain: PAT_TYPES,
    doc: "the host's page cache mode of the PFN (its PAT type; UC- included)",
    c: [
      {
        kind: "call",
        fn: "pat_pfn_memtype",
        args: [{ role: "pfn" }],
        returns: "memtype",
        note: "added by the mem-dma series next to the x86 PAT code (lookup_memtype() is not exported)",
      },
    ],
  },
] as const satisfies readonly InputDef[];

export const VOCABULARY: readonly InputDef[] = TABLE;

/** The vocabulary's own inputs and the values each takes: the types policy files are checked against. */
export type BuiltinInputs = {
  -readonly [D in (typeof TABLE)[number] as D["name"]]: D["kind"] extends "bool"
    ? boolean
    : D["domain"][number];
};

export const CONFIG_PREFIX = "config:";

/** The parameter names by which a function is handed an input (is_mmio for isMmio). */
export function paramNames(input: string): readonly string[] {
  const c = VOCABULARY.find((d) => d.name === input)?.c.find((x) => x.kind === "param");
  return c && c.kind === "param" ? c.names : [];
}

/** The input a parameter name stands for, if any. */
export function paramInput(name: string): string | undefined {
  return VOCABULARY.find((d) => d.c.some((c) => c.kind === "param" && c.names.includes(name)))?.name;
}

/** The memslot-flag spelling: the input it stands for and the memslot field whose bit it is. */
export const SLOT_FLAG: { input: string; field: string } = (() => {
  for (const d of VOCABULARY)
    for (const c of d.c) if (c.kind === "slot-flag") return { input: d.name, field: c.field };
  throw new Error("internal: the vocabulary has no slot-flag spelling");
})();

const BY_NAME = new Map(VOCABULARY.map((d) => [d.name, d]));

/**
 * Families of inputs named by the macro they test, for any macro of the family the tree defines:
 * `quirk:KVM_X86_QUIRK_X` (kvm_check_has_quirk()) and `cpu:X86_FEATURE_X` (the CPU feature tests). A named input
 * of the vocabulary that tests one macro of a family is that family member under its own name (an alias).
 */
export const FAMILIES: readonly {
  prefix: string;
  macroPrefix: string;
  doc: string;
  calls: readonly string[];
}[] = [
  {
    prefix: "quirk:",
    macroPrefix: "KVM_X86_QUIRK_",
    doc: "the KVM quirk is enabled",
    calls: ["kvm_check_has_quirk"],
  },
  {
    prefix: "cpu:",
    macroPrefix: "X86_FEATURE_",
    doc: "the CPU has the feature",
    calls: ["static_cpu_has", "boot_cpu_has", "cpu_feature_enabled"],
  },
];

/** The C spellings of a family member: each call of the family, with the member's macro as its last argument. */
function familySpellings(f: (typeof FAMILIES)[number], macro: string): CSpelling[] {
  return f.calls.map((fn) => ({
    kind: "call",
    fn,
    args: fn === "kvm_check_has_quirk" ? [{ role: "kvm" }, { macro }] : [{ macro }],
    returns: "bool",
  }));
}

/** `quirk:KVM_X86_QUIRK_CD_NW_CLEARED` -> quirkCdNwCleared: the family names of the vocabulary's own inputs. */
const ALIASES: ReadonlyMap<string, string> = new Map(
  VOCABULARY.flatMap((d) =>
    FAMILIES.flatMap((f) =>
      d.c.flatMap((c) => {
        if (c.kind !== "call" || !f.calls.includes(c.fn)) return [];
        const last = c.args[c.args.length - 1];
        return last && "macro" in last && last.macro.startsWith(f.macroPrefix)
          ? [[`${f.prefix}${last.macro}`, d.name] as const]
          : [];
      }),
    ),
  ),
);

/** The name an input is known by: an alias gives the vocabulary's own name; any other name is itself. */
export function canonicalInput(name: string): string {
  return ALIASES.get(name) ?? name;
}

/**
 * The definition of an input: the vocabulary's (with the config's extra spellings), a family member, a
 * `config:CONFIG_X` option, or an input of the user's config.
 */
export function inputDef(name: string): InputDef | undefined {
  const canonical = canonicalInput(name);
  const d = BY_NAME.get(canonical);
  const config = activeConfig();
  if (d) {
    const extra = config.spellings.get(canonical);
    return extra?.length
      ? { ...d, c: [...d.c, ...extra.map((s) => ({ kind: "shape" as const, text: s.text }))] }
      : d;
  }
  if (/^config:CONFIG_[A-Za-z0-9_]+$/.test(name)) {
    return { name, kind: "bool", domain: BOOL, doc: `${name.slice(CONFIG_PREFIX.length)} is set`, c: [] };
  }
  for (const f of FAMILIES) {
    const macro = name.slice(f.prefix.length);
    if (name.startsWith(f.prefix) && macro.startsWith(f.macroPrefix) && /^[A-Z0-9_]+$/.test(macro))
      return { name, kind: "bool", domain: BOOL, doc: `${macro}: ${f.doc}`, c: familySpellings(f, macro) };
  }
  const u = config.inputs.find((i) => i.name === name);
  if (u)
    return {
      name,
      kind: "bool",
      domain: BOOL,
      doc: u.doc ?? `${name} (kspec.config.json)`,
      c: u.shapes.map((s) => ({ kind: "shape", text: s.text })),
    };
  return undefined;
}

/**
 * Why a name is not an input, in one phrase: the names it is close to, the vocabulary, the families, and the
 * config's own inputs by name. Policy validation and `--when` say the same.
 */
export function unknownInputText(name: string): string {
  const mine = activeConfig().inputs.map((i) => i.name);
  const known = [...VOCABULARY.map((d) => d.name), ...ALIASES.keys(), ...mine];
  const near = closest(name, known).slice(0, 3);
  return `unknown input '${name}'${near.length ? `: did you mean ${near.join(" or ")}?` : ""} (the vocabulary: ${VOCABULARY.map((d) => d.name).join(", ")}; config:CONFIG_X, quirk:KVM_X86_QUIRK_X, cpu:X86_FEATURE_X${mine.length ? `; kspec.config.json's: ${mine.join(", ")}` : "; or an input of kspec.config.json"})`;
}

/** Is a name one of the vocabulary's own inputs (or an alias of one)? The config may not define those again. */
export function isBuiltinInput(name: string): boolean {
  return BY_NAME.has(canonicalInput(name)) || inputDef(name) !== undefined;
}

export function isInputName(name: string): boolean {
  return inputDef(name) !== undefined;
}

/** Vocabulary order, then config inputs by name: every table and JSON document lists inputs this way. */
export function sortInputs(names: Iterable<string>): string[] {
  const order = new Map(VOCABULARY.map((d, i) => [d.name, i]));
  return [...new Set(names)].sort((a, b) => {
    const ia = order.get(a) ?? VOCABULARY.length;
    const ib = order.get(b) ?? VOCABULARY.length;
    return ia !== ib ? ia - ib : a < b ? -1 : a > b ? 1 : 0;
  });
}

export function domainOf(name: string): readonly InputValue[] {
  const d = inputDef(name);
  if (!d) throw new Error(`unknown input ${name}`);
  return d.domain;
}

/** The code a memory-type input value stands for (`guestMtrr`, `hostPat`). */
export function memtypeCode(value: InputValue): number {
  const code = TYPE_CODE[value as keyof typeof TYPE_CODE];
  if (code === undefined) throw new Error(`not a memory type: ${String(value)}`);
  return code;
}

export function formatValue(v: InputValue): string {
  return typeof v === "boolean" ? (v ? "1" : "0") : v;
}

/** `isMmio`, `!noncoherentDma`, `guestMtrr=WB`: a literal as people write it in review. */
export function formatLiteral(name: string, values: readonly InputValue[]): string {
  const def = inputDef(name);
  if (def?.kind === "bool" && values.length === 1) return values[0] ? name : `!${name}`;
  if (values.length === 1) return `${name}=${String(values[0])}`;
  const missing = def ? def.domain.filter((v) => !values.includes(v)) : [];
  if (missing.length === 1 && values.length > 2) return `${name}!=${String(missing[0])}`;
  return `${name} in {${values.join(",")}}`;
}

/**
 * A conjunction as people write it (the inverse of formatLiteral): `noncoherentDma cr0Cd !quirkCdNwCleared
 * guestMtrr=WC`, one literal per word. Each name must be an input and each value in its domain; the Error says
 * which is not (callers turn it into their own input error).
 */
export function parseConjunction(text: string): Map<string, InputValue> {
  const out = new Map<string, InputValue>();
  for (const word of text
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean)) {
    const m = /^(!?)([A-Za-z][\w:]*)(?:=(.+))?$/.exec(word);
    if (!m) throw new Error(`'${word}': not a literal (write name, !name or name=value)`);
    const [, not, written, value] = m;
    const def = inputDef(written);
    if (!def) throw new Error(unknownInputText(written));
    // An alias (cpu:X86_FEATURE_SELFSNOOP) is the vocabulary's own input (selfSnoop), as in a policy.
    const name = def.name;
    let v: InputValue;
    if (value === undefined) {
      if (def.kind !== "bool") throw new Error(`${name} needs a value: ${name}=${def.domain.join("|")}`);
      v = !not;
    } else {
      if (not) throw new Error(`'${word}': ! goes with a boolean input only`);
      const hit = def.domain.find((d) => String(d) === value || formatValue(d) === value);
      if (hit === undefined) throw new Error(`${name}=${value}: not one of ${def.domain.join(", ")}`);
      v = hit;
    }
    if (out.has(name) && out.get(name) !== v)
      throw new Error(`${name} is given twice, with different values`);
    out.set(name, v);
  }
  if (!out.size) throw new Error("an empty condition");
  return out;
}
