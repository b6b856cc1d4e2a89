// Evaluate stage (constants): the value a constant macro has in a kernel tree, as the compiler of one file sees
// it — `VMX_EPT_IPAT_BIT`, `KVM_MEM_READONLY`, `KVM_CAP_MAX_VCPU_ID`. Definitions come from the file's include
// closure (kernel/cpp), bodies are expanded one level at a time and evaluated with C's integer rules
// (kernel/cvalues). The checker and the generator both ask here; neither needs an interpreter for a constant.

import { expandOnce, type MacroDef, type Preprocessor } from "./cpp.js";
import { arithInt, convertInt, parseNumber, scalarType } from "./cvalues.js";
import { parseSnippet, type SyntaxNode } from "./parse.js";

/** Why a name has no constant value: undefined, defined differently in different places, or not a constant. */
export interface NotConstant {
  kind: "undefined-identifier" | "ambiguous-macro" | "not-constant";
  name: string;
  message: string;
}

const snippets = new Map<string, SyntaxNode | null>();

/** A macro's replacement text parsed as one C expression (cached), or null when it is not one. */
export function expressionOf(text: string): SyntaxNode | null {
  let n = snippets.get(text);
  if (n === undefined) {
    const root = parseSnippet(`int __kspec_v = (${text}\n);`).rootNode;
    const decl = root.namedChildren[0];
    const init = decl?.type === "declaration" ? decl.childForFieldName("declarator") : null;
    n = !root.hasError && init?.type === "init_declarator" ? init.childForFieldName("value") : null;
    if (snippets.size > 4096) snippets.clear();
    snippets.set(text, n);
  }
  return n;
}

class Stop {
  constructor(readonly why: NotConstant) {}
}

/** Evaluation steps for one value: nested macros can double at every level, so a hostile tree could explode. */
const MAX_STEPS = 20_000;

export class MacroConstants {
  private readonly values = new Map<string, bigint | NotConstant>();
  private steps = 0;

  constructor(readonly pp: Preprocessor) {}

  /** The one live definition of a macro; an error when its definitions disagree. */
  definition(name: string): MacroDef | NotConstant | undefined {
    const defs = this.pp.lookup(name);
    if (defs.length > 1)
      return {
        kind: "ambiguous-macro",
        name,
        message: `${name} has ${defs.length} different definitions in the tree (${defs
          .slice(0, 3)
          .map((d) => `${d.file}:${d.line}`)
          .join(", ")}); which one applies depends on configuration`,
      };
    return defs[0];
  }

  /** The value of an object-like macro, cached. */
  value(name: string): bigint | NotConstant {
    let v = this.values.get(name);
    if (v === undefined) {
      try {
        this.steps = 0;
        v = this.identifier(name, []);
      } catch (e) {
        if (!(e instanceof Stop)) throw e;
        v = e.why;
      }
      this.values.set(name, v);
    }
    return v;
  }

  /** The value of one definition of an object-like macro, whatever other definitions of its name say. */
  evaluate(def: MacroDef): bigint | NotConstant {
    if (def.params) return { kind: "not-constant", name: def.name, message: `${def.name} takes arguments` };
    try {
      this.steps = 0;
      return this.expansion(def.name, expandOnce(def, undefined), []);
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      return e.why;
    }
  }

  /** The value of a constant macro, or undefined: for callers that only need numbers (the generator). */
  number(name: string): bigint | undefined {
    const v = this.value(name);
    return typeof v === "bigint" ? v : undefined;
  }

  private stop(kind: NotConstant["kind"], name: string, message: string): never {
    throw new Stop({ kind, name, message });
  }

  private identifier(name: string, expanding: readonly string[]): bigint {
    // A constant's value is the same wherever it is used: compute it once (macros that double at every level
    // would otherwise cost 2^depth evaluations).
    // Only values are kept: a failure inside another evaluation may be that evaluation's (its step budget).
    const known = this.values.get(name);
    if (typeof known === "bigint") return known;
    const v = this.identifierUncached(name, expanding);
    this.values.set(name, v);
    return v;
  }

  private identifierUncached(name: string, expanding: readonly string[]): bigint {
    const def = this.definition(name);
    if (def === undefined)
      this.stop("undefined-identifier", name, `'${name}' is not a macro defined in the tree`);
    if ("kind" in def) throw new Stop(def);
    if (def.params) this.stop("not-constant", name, `function-like macro ${name} used without arguments`);
    return this.expansion(name, expandOnce(def, undefined), expanding);
  }

  private expansion(name: string, text: string, expanding: readonly string[]): bigint {
    if (expanding.includes(name) || expanding.length > 64)
      this.stop("not-constant", name, `macro ${name} expands to itself`);
    const node = expressionOf(text);
    if (!node) this.stop("not-constant", name, `macro ${name} expands to '${text}', not an expression`);
    return this.eval(node, [...expanding, name]);
  }

  private eval(e: SyntaxNode, expanding: readonly string[]): bigint {
    if (++this.steps > MAX_STEPS)
      this.stop("not-constant", expanding[0] ?? e.text, "too many steps to evaluate");
    switch (e.type) {
      case "number_literal": {
        const v = parseNumber(e.text);
        if (v === undefined) this.stop("not-constant", e.text, `'${e.text}' is not an integer literal`);
        return v;
      }
      case "true":
        return 1n;
      case "false":
      case "null":
        return 0n;
      case "parenthesized_expression": {
        const inner = e.namedChildren.filter((c) => c.type !== "comment");
        if (inner.length !== 1) this.stop("not-constant", e.text, "unexpected parenthesized expression");
        return this.eval(inner[0], expanding);
      }
      case "identifier":
        return this.identifier(e.text, expanding);
      case "unary_expression": {
        const op = e.childForFieldName("operator")?.text;
        const a = this.eval(this.field(e, "argument"), expanding);
        if (op === "!") return a === 0n ? 1n : 0n;
        if (op === "~") return ~a;
        if (op === "-") return -a;
        if (op === "+") return a;
        return this.stop("not-constant", op ?? "?", `unary '${op}' in a constant`);
      }
      case "binary_expression": {
        const op = this.field(e, "operator").text;
        const l = this.eval(this.field(e, "left"), expanding);
        if (op === "&&") return l !== 0n && this.eval(this.field(e, "right"), expanding) !== 0n ? 1n : 0n;
        if (op === "||") return l !== 0n || this.eval(this.field(e, "right"), expanding) !== 0n ? 1n : 0n;
        const r = arithInt(op, l, this.eval(this.field(e, "right"), expanding));
        if (typeof r !== "bigint") this.stop("not-constant", r.name, r.message);
        return r;
      }
      case "conditional_expression": {
        const c = this.eval(this.field(e, "condition"), expanding);
        if (c !== 0n && !e.childForFieldName("consequence")) return c;
        return this.eval(this.field(e, c !== 0n ? "consequence" : "alternative"), expanding);
      }
      case "cast_expression": {
        const td = this.field(e, "type");
        const t = td.childForFieldName("declarator") ? undefined : scalarType(td.text);
        if (!t || t.k === "ptr" || t.k === "void") this.stop("not-constant", td.text, `cast to '${td.text}'`);
        return convertInt(this.eval(this.field(e, "value"), expanding), t);
      }
      case "call_expression": {
        const callee = this.field(e, "function");
        const args = this.field(e, "arguments").namedChildren.filter((c) => c.type !== "comment");
        if (callee.type !== "identifier") this.stop("not-constant", callee.text, "a call in a constant");
        const name = callee.text;
        if (name === "__builtin_expect" && args.length === 2) return this.eval(args[0], expanding);
        const def = this.definition(name);
        if (def === undefined) this.stop("not-constant", name, `call to ${name}(), which is not a macro`);
        if ("kind" in def) throw new Stop(def);
        let text: string;
        try {
          text = def.params
            ? expandOnce(
                def,
                args.map((a) => a.text),
              )
            : `${expandOnce(def, undefined)}(${args.map((a) => a.text).join(", ")})`;
        } catch (err) {
          return this.stop("not-constant", name, `macro ${name}: ${(err as Error).message}`);
        }
        return this.expansion(name, text, expanding);
      }
    }
    return this.stop("not-constant", e.type, `${e.type.replace(/_/g, " ")} in a constant`);
  }

  private field(n: SyntaxNode, name: string): SyntaxNode {
    const c = n.childForFieldName(name);
    if (!c) this.stop("not-constant", n.text, `${n.type} without ${name}`);
    return c;
  }
}
