// Value stage: C integer types and integer arithmetic as a kernel build sees them (x86-64, LP64), shared by the
// macro-constant evaluator and the interpreter, so that `(1ULL << 6) | 0x30` means the same to both.

/** The C types kspec models. Anything else is a named problem where it is met. */
export type CType =
  { k: "int"; bits: number; signed: boolean } | { k: "bool" } | { k: "ptr" } | { k: "void" };

/** Integer type names (after collapsing whitespace) -> [bits, signed]. */
export const INT_TYPES: Readonly<Record<string, readonly [number, boolean]>> = {
  u8: [8, false],
  __u8: [8, false],
  uint8_t: [8, false],
  "unsigned char": [8, false],
  s8: [8, true],
  __s8: [8, true],
  int8_t: [8, true],
  char: [8, true],
  "signed char": [8, true],
  u16: [16, false],
  __u16: [16, false],
  uint16_t: [16, false],
  "unsigned short": [16, false],
  s16: [16, true],
  __s16: [16, true],
  int16_t: [16, true],
  short: [16, true],
  u32: [32, false],
  __u32: [32, false],
  uint32_t: [32, false],
  "unsigned int": [32, false],
  unsigned: [32, false],
  s32: [32, true],
  __s32: [32, true],
  int32_t: [32, true],
  int: [32, true],
  signed: [32, true],
  "signed int": [32, true],
  u64: [64, false],
  __u64: [64, false],
  uint64_t: [64, false],
  "unsigned long": [64, false],
  "unsigned long long": [64, false],
  "unsigned long int": [64, false],
  size_t: [64, false],
  gfn_t: [64, false],
  kvm_pfn_t: [64, false],
  hpa_t: [64, false],
  gpa_t: [64, false],
  s64: [64, true],
  __s64: [64, true],
  int64_t: [64, true],
  long: [64, true],
  "long long": [64, true],
  "long int": [64, true],
  ssize_t: [64, true],
};

/** The type a type name denotes, or undefined when kspec does not model it. */
export function scalarType(name: string): CType | undefined {
  const n = name.replace(/\s+/g, " ").trim();
  if (n === "bool" || n === "_Bool") return { k: "bool" };
  if (n === "void") return { k: "void" };
  const it = INT_TYPES[n];
  return it ? { k: "int", bits: it[0], signed: it[1] } : undefined;
}

/** An integer converted to an integer or boolean type, as C converts it. */
export function convertInt(v: bigint, t: CType): bigint {
  if (t.k === "bool") return v !== 0n ? 1n : 0n;
  if (t.k === "int") return t.signed ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v);
  return v;
}

/** C integer literals: decimal, octal, hex, binary, with u/l suffixes and digit separators. */
export function parseNumber(text: string): bigint | undefined {
  const t = text.replace(/[uUlL]+$/, "").replace(/'/g, "");
  if (/^0[xX][0-9a-fA-F]+$/.test(t) || /^0[bB][01]+$/.test(t)) return BigInt(t);
  if (/^0[0-7]*$/.test(t)) return BigInt("0o" + (t.slice(1) || "0"));
  if (/^[1-9]\d*$/.test(t)) return BigInt(t);
  return undefined;
}

/** Why an operation has no value kspec can vouch for. */
export interface ArithError {
  /** `value`: the operands are outside what kspec vouches for; `construct`: the operator itself is not modeled. */
  kind: "value" | "construct";
  name: string;
  message: string;
}

/**
 * A binary operator on two integers. kspec computes with unbounded integers and refuses what C's finite,
 * signedness-dependent arithmetic would make uncertain: negative operands of relations and divisions, shifts by
 * a negative or huge amount, division by zero.
 */
export function arithInt(op: string, x: bigint, y: bigint): bigint | ArithError {
  const rel = (ok: boolean): bigint | ArithError =>
    x < 0n || y < 0n
      ? // C compares negative values differently when the other side is unsigned; kspec does not track that.
        { kind: "value", name: "signed comparison", message: "relational comparison of a negative value" }
      : ok
        ? 1n
        : 0n;
  switch (op) {
    case "+":
      return x + y;
    case "-":
      return x - y;
    case "*":
      return x * y;
    case "/":
    case "%":
      if (y === 0n) return { kind: "value", name: "division by zero", message: "division by zero" };
      if (x < 0n || y < 0n)
        return { kind: "value", name: "signed division", message: "division of a negative value" };
      return op === "/" ? x / y : x % y;
    case "<<":
    case ">>":
      if (y < 0n || y > 127n) return { kind: "value", name: "shift", message: `shift by ${y}` };
      return op === "<<" ? x << y : x >> y;
    case "&":
      return x & y;
    case "|":
      return x | y;
    case "^":
      return x ^ y;
    case "==":
      return x === y ? 1n : 0n;
    case "!=":
      return x !== y ? 1n : 0n;
    case "<":
      return rel(x < y);
    case ">":
      return rel(x > y);
    case "<=":
      return rel(x <= y);
    case ">=":
      return rel(x >= y);
  }
  return { kind: "construct", name: op, message: `operator '${op}' is not modeled` };
}
