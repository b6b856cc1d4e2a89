// Bind stage (shapes): C expressions written by the user in kspec.config.json — an input of their own
// ("vcpu->kvm->arch.iommu_domain"), or one more spelling of a built-in input ("kvm_get_guest_memory_type(vcpu,
// gfn)") — matched structurally against the C the interpreter reads: whitespace and redundant parentheses do not
// matter, and where the shape names a handle (vcpu, kvm, vcpu->kvm, gfn, slot, pfn) any C that holds that handle
// matches (a local `struct kvm *kvm = vcpu->kvm;` too). Anything else must be the same tokens.

import type { SpecProblem } from "../spec/errors.js";
import type { Config } from "../spec/config.js";
import { expressionOf } from "../kernel/macros.js";
import type { SyntaxNode } from "../kernel/parse.js";
import { inputDef, VOCABULARY, type Role } from "../spec/vocabulary.js";

export interface BoundShape {
  input: string;
  /** bool: nonzero is true; memtype: the memory-type code of the input's value. */
  returns: "bool" | "memtype";
  node: SyntaxNode;
  text: string;
}

const ROLES: readonly Role[] = ["vcpu", "kvm", "gfn", "slot", "pfn"];

/** The shapes of a config, parsed; a shape that is not one C expression is a problem at its location. */
export function configShapes(c: Config): { shapes: BoundShape[]; problems: SpecProblem[] } {
  const shapes: BoundShape[] = [];
  const problems: SpecProblem[] = [];
  // One piece of C stands for one input: a shape that is already a named input's call, or that two entries
  // claim, would silently take the C away from the other. Claimed shapes, by their tokens.
  const claimed = new Map<string, string>();
  const add = (
    input: string,
    returns: BoundShape["returns"],
    list: readonly { text: string; loc: SpecProblem["loc"] }[],
    own: boolean,
  ) => {
    for (const s of list) {
      const parsed = expressionOf(s.text);
      if (!parsed) {
        problems.push({ kind: "bad-shape", loc: s.loc, message: `'${s.text}' is not one C expression` });
        continue;
      }
      const node = strip(parsed);
      const builtin = own ? builtinOf(node) : undefined;
      const key = node.text.replace(/\s+/g, "");
      const other = claimed.get(key);
      if (builtin)
        problems.push({
          kind: "bad-shape",
          loc: s.loc,
          message: `'${s.text}' is C kspec reads as ${builtin}: an input of your own needs C of its own`,
        });
      else if (other !== undefined && other !== input)
        problems.push({
          kind: "bad-shape",
          loc: s.loc,
          message: `'${s.text}' is bound to both ${other} and ${input}: one piece of C stands for one input`,
        });
      claimed.set(key, input);
      shapes.push({ input, returns, node, text: s.text });
    }
  };
  for (const u of c.inputs) add(u.name, "bool", u.shapes, true);
  for (const [name, list] of c.spellings)
    add(inputDef(name)!.name, inputDef(name)!.kind === "enum" ? "memtype" : "bool", list, false);
  return { shapes, problems };
}

/**
 * The calls the vocabulary binds to its named inputs (kvm_arch_has_noncoherent_dma -> noncoherentDma; a quirk or
 * CPU-feature test -> the input named for that macro). A family call of another macro is free to be named.
 */
const BUILTIN_CALLS: readonly { fn: string; macro?: string; input: string }[] = VOCABULARY.flatMap((d) =>
  d.c.flatMap((c) => {
    if (c.kind !== "call") return [];
    const last = c.args[c.args.length - 1];
    return [{ fn: c.fn, macro: last && "macro" in last ? last.macro : undefined, input: d.name }];
  }),
);

/** The named input whose C a call shape is, if it is one. */
function builtinOf(n: SyntaxNode): string | undefined {
  if (n.type !== "call_expression") return undefined;
  const fn = n.childForFieldName("function")?.text;
  const args = n.childForFieldName("arguments")?.text ?? "";
  return BUILTIN_CALLS.find((b) => b.fn === fn && (!b.macro || new RegExp(`\\b${b.macro}\\b`).test(args)))
    ?.input;
}

function strip(n: SyntaxNode): SyntaxNode {
  while (n.type === "parenthesized_expression") {
    const inner = n.namedChildren.filter((c) => c.type !== "comment");
    if (inner.length !== 1) return n;
    n = inner[0];
  }
  return n;
}

/** The handle a shape's subexpression names, if it names one: `vcpu`, `kvm`, `vcpu->kvm`... */
function shapeRole(s: SyntaxNode): Role | undefined {
  if (s.type === "identifier") return ROLES.find((r) => r === s.text);
  if (s.type === "field_expression") {
    const arg = s.childForFieldName("argument");
    const op = s.childForFieldName("operator")?.text ?? "->";
    if (
      arg &&
      shapeRole(strip(arg)) === "vcpu" &&
      s.childForFieldName("field")?.text === "kvm" &&
      op === "->"
    )
      return "kvm";
  }
  return undefined;
}

/**
 * Does the C at `e` have the shape `s`? `roleOf` tells which handle a C expression holds, without reading any
 * input (the interpreter's bindings of parameters and locals).
 */
export function matches(s: SyntaxNode, e: SyntaxNode, roleOf: (n: SyntaxNode) => Role | undefined): boolean {
  s = strip(s);
  e = strip(e);
  const role = shapeRole(s);
  if (role) return roleOf(e) === role;
  if (s.type !== e.type) return false;
  const sc = s.children.filter((c) => c.type !== "comment");
  const ec = e.children.filter((c) => c.type !== "comment");
  if (sc.length === 0 || ec.length === 0) return sc.length === ec.length && s.text === e.text;
  return sc.length === ec.length && sc.every((c, i) => matches(c, ec[i], roleOf));
}
