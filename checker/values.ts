// Value stage (interpreter): what a C expression can evaluate to while kspec runs a function — an integer, an
// opaque handle the function was given (vcpu, kvm, slot...), or a register whose listed bits are inputs — and the
// conversions C applies to them. Pure: a conversion that kspec cannot vouch for is a Fault, which the
// interpreter reports at the C line it met it.

import { convertInt, type CType } from "../kernel/cvalues.js";
import type { ProblemKind } from "../kernel/problems.js";
import type { Role } from "../spec/vocabulary.js";

export type IntV = { k: "int"; v: bigint };
export type OpaqueV = { k: "opaque"; role?: Role; desc: string };
/** A register whose listed bits are inputs and whose other bits are unknown (slot->flags, CR0). */
export type WordV = { k: "word"; desc: string; bits: { mask: bigint; input: string; macro: string }[] };
export type Val = IntV | OpaqueV | WordV;

export interface Fault {
  kind: ProblemKind;
  name: string;
  message: string;
}

export const int = (v: bigint | number | boolean): IntV => ({
  k: "int",
  v: typeof v === "boolean" ? (v ? 1n : 0n) : BigInt(v),
});

export function isFault(x: unknown): x is Fault {
  return typeof x === "object" && x !== null && "kind" in x && "message" in x;
}

export function describe(v: Val): string {
  return v.k === "int" ? String(v.v) : v.desc;
}

/** A value converted to a type as an assignment, a parameter or a return converts it. */
export function convert(v: Val, t: CType): Val | Fault {
  if (t.k === "void") return v;
  if (t.k === "ptr") {
    if (v.k === "opaque" || (v.k === "int" && v.v === 0n)) return v;
    return { kind: "unmodeled-value", name: describe(v), message: `${describe(v)} used as a pointer` };
  }
  if (t.k === "bool") {
    const b = truth(v);
    return isFault(b) ? b : int(b);
  }
  if (v.k === "int") return int(convertInt(v.v, t));
  // A register keeps its input bits through a conversion wide enough to hold them.
  if (v.k === "word" && v.bits.every((b) => b.mask < 1n << BigInt(t.bits))) return v;
  return {
    kind: "unmodeled-value",
    name: describe(v),
    message: `the value of ${describe(v)} is not modeled`,
  };
}

export function truth(v: Val): boolean | Fault {
  if (v.k === "int") return v.v !== 0n;
  return {
    kind: "unmodeled-value",
    name: describe(v),
    message: `the truth of ${describe(v)} depends on state kspec does not model`,
  };
}

export function num(v: Val): bigint | Fault {
  if (v.k === "int") return v.v;
  return {
    kind: "unmodeled-value",
    name: describe(v),
    message: `arithmetic on ${describe(v)} is not modeled`,
  };
}
