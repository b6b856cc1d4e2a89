// Interpret stage: a C-subset interpreter that runs a kernel function for one assignment of the vocabulary
// inputs. Calls the vocabulary binds read inputs (checker/binding); static helpers of the tree are inlined
// (kernel/locate); constant macros come from the tree's headers (kernel/macros), other macros are expanded here.
// Anything else stops the run with a named, located problem: the checker never guesses what unmodeled C does.

import type { Preprocessor } from "../kernel/cpp.js";
import { expandOnce } from "../kernel/cpp.js";
import { arithInt, parseNumber, scalarType, type CType } from "../kernel/cvalues.js";
import { staticHelper, unreadable, type Located } from "../kernel/locate.js";
import { expressionOf, MacroConstants } from "../kernel/macros.js";
import {
  declaredName,
  firstSyntaxError,
  functionDeclarator,
  lineOf,
  type SyntaxNode,
} from "../kernel/parse.js";
import { Unverifiable, type CLoc, type Problem, type ProblemKind } from "../kernel/problems.js";
import { blockedKind, blockedMessage, type Blocked, type KernelTree } from "../kernel/tree.js";
import { need, type Env } from "../spec/evaluate.js";
import { CONFIG_PREFIX, memtypeCode, type Role } from "../spec/vocabulary.js";
import { activeConfig } from "../spec/config.js";
import { configShapes, matches, type BoundShape } from "./shapes.js";
import {
  argMatches,
  callSpellings,
  familyCall,
  isFamilyCall,
  paramInput,
  predicate,
  roleOfType,
  SLOT_FLAG_FIELD,
  slotFlagsWord,
  type CallSpelling,
  type MacroValue,
} from "./binding.js";
import { convert, describe, int, isFault, num, truth, type Fault, type Val, type WordV } from "./values.js";

const BUILTINS: Record<string, (args: Val[]) => Val | undefined> = {
  __builtin_expect: (a) => a[0],
};

export interface InterpOptions {
  /** The memslot-flag macros that stand for the `slotFlag` input (checker/binding decides which). */
  flagMacros: readonly string[];
  /** Step budget per run: a guard against pathological input, reported as a problem. */
  maxSteps?: number;
  /** Paths kspec refused to read while locating the function. */
  blocked?: readonly Blocked[];
}

class ReturnSig {
  constructor(
    readonly value: Val | undefined,
    readonly node: SyntaxNode,
  ) {}
}
class GotoSig {
  constructor(
    readonly label: string,
    readonly node: SyntaxNode,
  ) {}
}

interface Binding {
  type: CType;
  val?: Val;
  /** A parameter that is an input: read (and so asked for) only when used. */
  input?: string;
}

interface Frame {
  file: string;
  scope: Map<string, Binding>[];
  /** Set while evaluating a macro expansion: problems are reported at the macro's use. */
  site?: CLoc;
  fnName: string;
}

interface HelperDef {
  node: SyntaxNode;
  file: string;
}

/** Runs one function; one instance serves every input assignment (helpers and macro values are cached). */
export class Interpreter {
  private helpers = new Map<string, HelperDef | null>();
  readonly constants: MacroConstants;
  private env!: Env;
  private steps = 0;
  private usedFlagMacro?: string;
  /** The memslot-flag macros some path tested (slot->flags & FLAG): what the function honors. */
  readonly flagsTested = new Set<string>();
  private expanding: string[] = [];
  private depth = 0;
  readonly fn: SyntaxNode;
  readonly file: string;

  constructor(
    readonly tree: KernelTree,
    readonly pp: Preprocessor,
    readonly located: Located,
    readonly opts: InterpOptions,
  ) {
    this.fn = located.node;
    this.file = located.info.file;
    this.constants = new MacroConstants(pp);
  }

  /** The mask the function returns for `env`, and the top-level return that produced it. Throws Need. */
  run(env: Env): { mask: number; ret: CLoc } {
    this.env = env;
    this.steps = 0;
    this.usedFlagMacro = undefined;
    this.expanding = [];
    this.depth = 0;
    const bad = unreadable(this.located);
    if (bad)
      this.fail("parse-error", this.located.info.name, { file: this.file, line: bad.line }, bad.message);
    const frame: Frame = {
      file: this.file,
      scope: [new Map()],
      fnName: declaredName(functionDeclarator(this.fn) ?? null) ?? "?",
    };
    this.bindTopParams(frame);
    const retType = this.returnType(this.fn, frame);
    try {
      this.execBody(this.fn.childForFieldName("body")!, frame);
    } catch (e) {
      if (e instanceof ReturnSig) {
        if (!e.value) this.fail("no-value", "return", this.loc(frame, e.node), "return without a value");
        const v = this.convert(e.value, retType, frame, e.node);
        if (v.k !== "int")
          this.fail(
            "unmodeled-value",
            describe(v),
            this.loc(frame, e.node),
            `the function returns ${describe(v)}, not a number kspec can compute`,
          );
        return { mask: Number(BigInt.asUintN(32, v.v)), ret: this.loc(frame, e.node) };
      }
      if (e instanceof GotoSig)
        this.fail(
          "unmodeled-construct",
          `goto ${e.label}`,
          this.loc(frame, e.node),
          `goto to label '${e.label}' that is not later in an enclosing block`,
        );
      throw e;
    }
    this.fail(
      "no-return",
      frame.fnName,
      { file: this.file, line: this.fn.endPosition.row + 1 },
      "control reaches the end of the function without a return",
    );
  }

  /**
   * Problems of the tree itself for this function: files it refused to read where the function was searched for,
   * and headers of the function's include closure it refused to read (known once the closure was needed).
   */
  treeProblems(): Problem[] {
    const out: Problem[] = [];
    for (const b of this.opts.blocked ?? [])
      out.push({ kind: blockedKind(b), name: b.path, file: b.path, line: 0, message: blockedMessage(b) });
    // One problem per symlink that leaves the tree, however many headers lie beyond it.
    const seen = new Set<string>();
    for (const b of this.pp.blocked) {
      const key = b.entry.kind === "outside" ? b.entry.via : b.path;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({
        kind: blockedKind(b),
        name: key,
        file: b.from,
        line: b.line,
        message: `#include: ${blockedMessage(b)}`,
      });
    }
    return out;
  }

  // ---- problems and locations --------------------------------------------------------------------------

  /**
   * A field of a node, or a problem at its line when the grammar left it out (GNU extensions, error recovery):
   * never a crash on odd input.
   */
  private req(n: SyntaxNode, field: string, f: Frame): SyntaxNode {
    const c = n.childForFieldName(field);
    if (!c)
      this.fail(
        "unmodeled-construct",
        `${constructName(n)} without ${field}`,
        this.loc(f, n),
        `${constructName(n)} without its ${field} is not modeled`,
      );
    return c;
  }

  private fail(kind: ProblemKind, name: string, at: CLoc, message: string): never {
    throw new Unverifiable({ kind, name, file: at.file, line: at.line, message });
  }

  /** A value, or the fault of computing it reported at `at`. */
  private ok<T>(x: T | Fault, f: Frame, at: SyntaxNode): T {
    if (isFault(x)) this.fail(x.kind, x.name, this.loc(f, at), x.message);
    return x;
  }

  private loc(f: Frame, n: SyntaxNode): CLoc {
    return f.site ?? { file: f.file, line: lineOf(n) };
  }

  private tick(f: Frame, n: SyntaxNode): void {
    if (++this.steps > (this.opts.maxSteps ?? 20_000))
      this.fail("too-many-steps", f.fnName, this.loc(f, n), "step budget exhausted");
  }

  // ---- types and parameters ------------------------------------------------------------------------------

  private typeOf(typeNode: SyntaxNode | null, declarator: SyntaxNode | null, f: Frame): CType {
    let d = declarator;
    while (d) {
      if (d.type === "pointer_declarator" || d.type === "abstract_pointer_declarator") return { k: "ptr" };
      if (d.type === "array_declarator")
        this.fail("unmodeled-construct", "array", this.loc(f, d), "arrays are not modeled");
      d = d.childForFieldName("declarator");
    }
    if (typeNode?.type === "enum_specifier") return { k: "int", bits: 32, signed: true };
    const name = (typeNode?.text ?? "int").replace(/\s+/g, " ");
    return (
      scalarType(name) ??
      this.fail("unmodeled-type", name, this.loc(f, typeNode ?? this.fn), `type '${name}' is not modeled`)
    );
  }

  private returnType(def: SyntaxNode, f: Frame): CType {
    return this.typeOf(
      def.childForFieldName("type"),
      def.childForFieldName("declarator")?.type === "pointer_declarator"
        ? def.childForFieldName("declarator")
        : null,
      f,
    );
  }

  private params(def: SyntaxNode): SyntaxNode[] {
    const fd = functionDeclarator(def);
    return (fd?.childForFieldName("parameters")?.namedChildren ?? []).filter(
      (p) => p.type === "parameter_declaration",
    );
  }

  private bindTopParams(f: Frame): void {
    for (const p of this.params(this.fn)) {
      const name = declaredName(p.childForFieldName("declarator"));
      if (!name) continue;
      const type = this.typeOf(p.childForFieldName("type"), p.childForFieldName("declarator"), f);
      const input = type.k === "bool" ? paramInput(name) : undefined;
      if (input) f.scope[0].set(name, { type, input });
      else
        f.scope[0].set(name, {
          type,
          val: { k: "opaque", role: roleOfType(p.childForFieldName("type")?.text ?? ""), desc: name },
        });
    }
  }

  // ---- statements ------------------------------------------------------------------------------------------

  private execBody(body: SyntaxNode, f: Frame): void {
    f.scope.push(new Map());
    try {
      this.execList(body.namedChildren, f);
    } finally {
      f.scope.pop();
    }
  }

  private execList(stmts: readonly SyntaxNode[], f: Frame): void {
    let i = 0;
    while (i < stmts.length) {
      try {
        this.exec(stmts[i], f);
        i++;
      } catch (e) {
        if (!(e instanceof GotoSig)) throw e;
        const j = stmts.findIndex(
          (s) => s.type === "labeled_statement" && s.childForFieldName("label")?.text === e.label,
        );
        if (j < 0) throw e;
        if (j <= i)
          this.fail(
            "unmodeled-construct",
            `goto ${e.label}`,
            this.loc(f, e.node),
            "a backward goto (a loop) is not modeled",
          );
        i = j;
      }
    }
  }

  private exec(s: SyntaxNode, f: Frame): void {
    this.tick(f, s);
    switch (s.type) {
      case "comment":
        return;
      case "compound_statement":
        return this.execBody(s, f);
      case "expression_statement": {
        const e = s.namedChildren.find((c) => c.type !== "comment");
        if (e) this.eval(e, f);
        return;
      }
      case "declaration":
        return this.declare(s, f);
      case "if_statement": {
        const cond = this.truth(this.eval(this.req(s, "condition", f), f), f, s);
        if (cond) return this.exec(this.req(s, "consequence", f), f);
        const alt = s.childForFieldName("alternative");
        if (alt)
          return this.exec(
            alt.type === "else_clause" ? alt.namedChildren.find((c) => c.type !== "comment")! : alt,
            f,
          );
        return;
      }
      case "return_statement": {
        const e = s.namedChildren.find((c) => c.type !== "comment");
        throw new ReturnSig(e ? this.eval(e, f) : undefined, s);
      }
      case "goto_statement":
        throw new GotoSig(this.req(s, "label", f).text, s);
      case "labeled_statement": {
        const inner = s.namedChildren.filter(
          (c) => c.type !== "statement_identifier" && c.type !== "comment",
        );
        return this.execList(inner, f);
      }
      case "preproc_ifdef":
      case "preproc_if":
        return this.execPreproc(s, f);
      case "ERROR":
        return this.fail(
          "parse-error",
          "ERROR",
          this.loc(f, s),
          `tree-sitter cannot parse '${clip(s.text)}'`,
        );
      default:
        return this.fail(
          "unmodeled-construct",
          constructName(s),
          this.loc(f, s),
          `${constructName(s)} is not modeled`,
        );
    }
  }

  private execPreproc(s: SyntaxNode, f: Frame): void {
    let taken: boolean;
    if (s.type === "preproc_ifdef") {
      const name = this.req(s, "name", f).text;
      const negate = s.child(0)!.type === "#ifndef";
      taken = this.configDefined(name, f, s) !== negate;
    } else {
      taken = this.preprocCond(this.req(s, "condition", f), f);
    }
    const alt = s.childForFieldName("alternative");
    // Node objects are not unique per node in the tree-sitter binding: compare positions, not identities.
    const skip = [alt, s.childForFieldName("name"), s.childForFieldName("condition")].filter(
      (n): n is SyntaxNode => !!n,
    );
    const body = s.namedChildren.filter(
      (c) =>
        !skip.some((n) => n.startIndex === c.startIndex && n.endIndex === c.endIndex && n.type === c.type),
    );
    if (taken) return this.execList(body, f);
    if (!alt) return;
    if (alt.type === "preproc_else") return this.execList(alt.namedChildren, f);
    return this.execPreproc(alt, f); // preproc_elif / preproc_elifdef
  }

  private configDefined(name: string, f: Frame, at: SyntaxNode): boolean {
    if (!name.startsWith("CONFIG_"))
      this.fail(
        "unmodeled-construct",
        `#ifdef ${name}`,
        this.loc(f, at),
        `only CONFIG_ options are modeled in #ifdef inside a function`,
      );
    return need(this.env, `${CONFIG_PREFIX}${name}`) === true;
  }

  private preprocCond(c: SyntaxNode, f: Frame): boolean {
    switch (c.type) {
      case "parenthesized_expression":
        return this.preprocCond(c.namedChildren[0], f);
      case "preproc_defined":
        return this.configDefined(c.namedChildren[0].text, f, c);
      case "unary_expression":
        if (c.childForFieldName("operator")?.text === "!")
          return !this.preprocCond(this.req(c, "argument", f), f);
        break;
      case "binary_expression": {
        const op = this.req(c, "operator", f).text;
        if (op === "&&")
          return this.preprocCond(this.req(c, "left", f), f) && this.preprocCond(this.req(c, "right", f), f);
        if (op === "||")
          return this.preprocCond(this.req(c, "left", f), f) || this.preprocCond(this.req(c, "right", f), f);
        break;
      }
      case "call_expression": {
        const fn = this.req(c, "function", f).text;
        const args = this.req(c, "arguments", f).namedChildren;
        if (["IS_ENABLED", "IS_BUILTIN", "IS_REACHABLE"].includes(fn) && args.length === 1)
          return this.configDefined(args[0].text, f, c);
        break;
      }
      case "identifier":
        if (c.text.startsWith("CONFIG_")) return this.configDefined(c.text, f, c);
        break;
    }
    return this.fail(
      "unmodeled-construct",
      `#if ${clip(c.text)}`,
      this.loc(f, c),
      "this preprocessor condition is not modeled",
    );
  }

  private declare(s: SyntaxNode, f: Frame): void {
    if (s.namedChildren.some((c) => c.type === "storage_class_specifier" && c.text === "static")) {
      this.fail(
        "unmodeled-construct",
        "static local",
        this.loc(f, s),
        "static locals keep state between calls and are not modeled",
      );
    }
    const typeNode = s.childForFieldName("type");
    for (const d of s.childrenForFieldName("declarator")) {
      const init = d.type === "init_declarator" ? d.childForFieldName("value") : null;
      const declr = d.type === "init_declarator" ? d.childForFieldName("declarator") : d;
      const name = declaredName(declr);
      if (!name)
        this.fail("unmodeled-construct", "declaration", this.loc(f, d), "declaration kspec cannot read");
      const type = this.typeOf(typeNode, declr, f);
      const b: Binding = { type };
      if (init) {
        if (init.type === "initializer_list")
          this.fail(
            "unmodeled-construct",
            "initializer list",
            this.loc(f, init),
            "initializer lists are not modeled",
          );
        b.val = this.convert(this.eval(init, f), type, f, init);
      }
      f.scope[f.scope.length - 1].set(name, b);
    }
  }

  // ---- values ----------------------------------------------------------------------------------------------

  private lookupVar(name: string, f: Frame): Binding | undefined {
    for (let i = f.scope.length - 1; i >= 0; i--) {
      const b = f.scope[i].get(name);
      if (b) return b;
    }
    return undefined;
  }

  private convert(v: Val, t: CType, f: Frame, at: SyntaxNode): Val {
    return this.ok(convert(v, t), f, at);
  }

  private truth(v: Val, f: Frame, at: SyntaxNode): boolean {
    return this.ok(truth(v), f, at);
  }

  private num(v: Val, f: Frame, at: SyntaxNode): bigint {
    return this.ok(num(v), f, at);
  }

  eval(e: SyntaxNode, f: Frame): Val {
    this.tick(f, e);
    const shaped = this.shapes.size ? this.shaped(e, f) : undefined;
    if (shaped) return shaped;
    switch (e.type) {
      case "number_literal":
        return int(
          parseNumber(e.text) ??
            this.fail(
              "unmodeled-construct",
              e.text,
              this.loc(f, e),
              `number '${e.text}' is not an integer literal`,
            ),
        );
      case "true":
        return int(1);
      case "false":
        return int(0);
      case "null":
        return int(0);
      case "parenthesized_expression": {
        const inner = e.namedChildren.filter((c) => c.type !== "comment");
        if (inner.length !== 1)
          this.fail(
            "unmodeled-construct",
            "parenthesized",
            this.loc(f, e),
            "unexpected parenthesized expression",
          );
        return this.eval(inner[0], f);
      }
      case "identifier":
        return this.identifier(e, f);
      case "unary_expression": {
        const op = this.req(e, "operator", f).text;
        const a = this.eval(this.req(e, "argument", f), f);
        if (op === "!") return int(!this.truth(a, f, e));
        const n = this.num(a, f, e);
        if (op === "~") return int(~n);
        if (op === "-") return int(-n);
        if (op === "+") return int(n);
        return this.fail("unmodeled-construct", op, this.loc(f, e), `unary '${op}' is not modeled`);
      }
      case "binary_expression":
        return this.binary(e, f);
      case "conditional_expression": {
        const cv = this.eval(this.req(e, "condition", f), f);
        const c = this.truth(cv, f, e);
        // GNU C's `a ?: b` has no middle operand: the condition's value itself when it is true.
        if (c && !e.childForFieldName("consequence")) return cv;
        return this.eval(e.childForFieldName(c ? "consequence" : "alternative")!, f);
      }
      case "cast_expression": {
        const td = this.req(e, "type", f);
        const t = this.typeOf(td.childForFieldName("type"), td.childForFieldName("declarator"), f);
        return this.convert(this.eval(this.req(e, "value", f), f), t, f, e);
      }
      case "assignment_expression":
        return this.assign(e, f);
      case "update_expression": {
        const arg = this.req(e, "argument", f);
        const b = this.lvalue(arg, f);
        const old = this.num(this.read(arg.text, b, f, arg), f, e);
        const op = this.req(e, "operator", f).text;
        b.val = this.convert(int(op === "++" ? old + 1n : old - 1n), b.type, f, e);
        delete b.input;
        return e.child(0)!.type === op ? b.val : int(old);
      }
      case "comma_expression": {
        this.eval(this.req(e, "left", f), f);
        return this.eval(this.req(e, "right", f), f);
      }
      case "call_expression":
        return this.call(e, f);
      case "field_expression":
        return this.field(e, f);
      case "ERROR":
        return this.fail(
          "parse-error",
          "ERROR",
          this.loc(f, e),
          `tree-sitter cannot parse '${clip(e.text)}'`,
        );
      default:
        return this.fail(
          "unmodeled-construct",
          constructName(e),
          this.loc(f, e),
          `${constructName(e)} is not modeled`,
        );
    }
  }

  private read(name: string, b: Binding, f: Frame, at: SyntaxNode): Val {
    if (b.input) return int(need(this.env, b.input) === true);
    if (!b.val) this.fail("uninitialized", name, this.loc(f, at), `'${name}' is read before it is assigned`);
    return b.val;
  }

  private lvalue(n: SyntaxNode, f: Frame): Binding {
    const inner = n.type === "parenthesized_expression" ? n.namedChildren[0] : n;
    if (inner.type === "identifier") {
      const b = this.lookupVar(inner.text, f);
      if (b) return b;
    }
    return this.fail(
      "unmodeled-construct",
      `assignment to ${clip(n.text)}`,
      this.loc(f, n),
      "only assignments to local variables are modeled",
    );
  }

  private assign(e: SyntaxNode, f: Frame): Val {
    const left = this.req(e, "left", f);
    const op = this.req(e, "operator", f).text;
    const b = this.lvalue(left, f);
    const rhs = this.eval(this.req(e, "right", f), f);
    let v: Val = rhs;
    if (op !== "=") {
      const cur = this.read(left.text, b, f, left);
      v = this.arith(op.slice(0, -1), cur, rhs, f, e);
    }
    b.val = this.convert(v, b.type, f, e);
    delete b.input;
    return b.val;
  }

  private binary(e: SyntaxNode, f: Frame): Val {
    const op = this.req(e, "operator", f).text;
    const l = this.req(e, "left", f);
    const r = this.req(e, "right", f);
    if (op === "&&") return int(this.truth(this.eval(l, f), f, l) && this.truth(this.eval(r, f), f, r));
    if (op === "||") return int(this.truth(this.eval(l, f), f, l) || this.truth(this.eval(r, f), f, r));
    return this.arith(op, this.eval(l, f), this.eval(r, f), f, e);
  }

  private arith(op: string, a: Val, b: Val, f: Frame, at: SyntaxNode): Val {
    if (op === "&" && (a.k === "word" || b.k === "word")) {
      const [w, m] = a.k === "word" ? [a, b] : [b as WordV, a];
      return this.maskWord(w, this.num(m, f, at), f, at);
    }
    const r = arithInt(op, this.num(a, f, at), this.num(b, f, at));
    if (typeof r === "bigint") return int(r);
    return this.fail(
      r.kind === "construct" ? "unmodeled-construct" : "unmodeled-value",
      r.name,
      this.loc(f, at),
      r.message,
    );
  }

  private maskWord(w: WordV, m: bigint, f: Frame, at: SyntaxNode): Val {
    if (m === 0n) return int(0);
    const bit = w.bits.find((b) => b.mask === m);
    if (!bit) {
      return this.fail(
        "unmodeled-value",
        `${w.desc} & 0x${m.toString(16)}`,
        this.loc(f, at),
        `${w.desc} & 0x${m.toString(16)}: only ${w.bits.map((b) => b.macro).join(", ") || "no bits"} of ${w.desc} ${w.bits.length === 1 ? "is" : "are"} modeled`,
      );
    }
    if (w.desc.endsWith(`->${SLOT_FLAG_FIELD}`)) {
      if (this.usedFlagMacro && this.usedFlagMacro !== bit.macro) {
        this.fail(
          "ambiguous-flag",
          bit.macro,
          this.loc(f, at),
          `the function tests both ${this.usedFlagMacro} and ${bit.macro}; slotFlag can stand for one`,
        );
      }
      this.usedFlagMacro = bit.macro;
      this.flagsTested.add(bit.macro);
    }
    return int(need(this.env, bit.input) === true ? m : 0n);
  }

  private field(e: SyntaxNode, f: Frame): Val {
    const base = this.eval(this.req(e, "argument", f), f);
    const name = this.req(e, "field", f).text;
    const arrow = e.childForFieldName("operator")?.text ?? (e.text.includes("->") ? "->" : ".");
    const desc = `${base.k === "opaque" ? base.desc : "?"}${arrow}${name}`;
    if (base.k !== "opaque") this.fail("unmodeled-value", desc, this.loc(f, e), `${desc} is not modeled`);
    if (base.role === "vcpu" && name === "kvm" && arrow === "->") return { k: "opaque", role: "kvm", desc };
    if (base.role === "slot" && name === SLOT_FLAG_FIELD && arrow === "->")
      return slotFlagsWord(desc, this.opts.flagMacros, this.macroValue);
    return { k: "opaque", desc };
  }

  // ---- identifiers and macros ---------------------------------------------------------------------------

  private identifier(e: SyntaxNode, f: Frame): Val {
    const name = e.text;
    const b = this.lookupVar(name, f);
    if (b) return this.read(name, b, f, e);
    if (name === "NULL") return int(0);
    return this.expandObject(name, f, e);
  }

  /** The tree's value of a constant macro (kernel/macros): for flag bits and macro arguments of spellings. */
  readonly macroValue: MacroValue = (name) => {
    const v = this.constants.value(name);
    return typeof v === "bigint"
      ? v
      : { kind: v.kind === "not-constant" ? "unmodeled-value" : v.kind, name: v.name, message: v.message };
  };

  private macroDef(name: string, f: Frame, at: SyntaxNode) {
    const d = this.constants.definition(name);
    if (d && "kind" in d) this.fail("ambiguous-macro", name, this.loc(f, at), d.message);
    return d;
  }

  private expandObject(name: string, f: Frame, at: SyntaxNode): Val {
    const def = this.macroDef(name, f, at);
    if (!def)
      this.fail(
        "undefined-identifier",
        name,
        this.loc(f, at),
        `'${name}' is not a local, a parameter or a macro defined in the tree`,
      );
    if (def.params)
      this.fail(
        "unmodeled-construct",
        name,
        this.loc(f, at),
        `function-like macro ${name} used without arguments`,
      );
    // A constant needs no run of its own; a macro over locals or calls is expanded where it is used.
    const v = this.constants.value(name);
    if (typeof v === "bigint") return int(v);
    return this.evalExpansion(name, expandOnce(def, undefined), f, at);
  }

  private evalExpansion(name: string, text: string, f: Frame, at: SyntaxNode): Val {
    if (this.expanding.includes(name) || this.expanding.length > 64) {
      this.fail("unmodeled-construct", name, this.loc(f, at), `macro ${name} expands to itself`);
    }
    const node = expressionOf(text);
    if (!node)
      this.fail(
        "unmodeled-construct",
        name,
        this.loc(f, at),
        `macro ${name} expands to '${clip(text)}', which is not an expression kspec models`,
      );
    this.expanding.push(name);
    try {
      return this.eval(node, { ...f, site: this.loc(f, at) });
    } finally {
      this.expanding.pop();
    }
  }

  // ---- calls -----------------------------------------------------------------------------------------------

  /** The user's shapes (kspec.config.json), by the type of their outermost node. */
  private readonly shapes: ReadonlyMap<string, readonly BoundShape[]> = shapesByType();

  /** The value of C that has the shape of one of the user's inputs or spellings, if it has one. */
  private shaped(e: SyntaxNode, f: Frame): Val | undefined {
    let n = e;
    while (n.type === "parenthesized_expression" && n.namedChildren.length === 1) n = n.namedChildren[0];
    for (const s of this.shapes.get(n.type) ?? []) {
      if (!matches(s.node, n, (x) => this.roleOf(x, f))) continue;
      const v = need(this.env, s.input);
      return s.returns === "memtype" ? int(memtypeCode(v)) : int(v === true);
    }
    return undefined;
  }

  /** The handle a C expression holds (vcpu, kvm, ...), read from bindings only: no input is asked for. */
  private roleOf(n: SyntaxNode, f: Frame): Role | undefined {
    if (n.type === "parenthesized_expression" && n.namedChildren.length === 1)
      return this.roleOf(n.namedChildren[0], f);
    if (n.type === "identifier") {
      const v = this.lookupVar(n.text, f)?.val;
      return v?.k === "opaque" ? v.role : undefined;
    }
    if (n.type === "field_expression") {
      const arg = n.childForFieldName("argument");
      const op = n.childForFieldName("operator")?.text ?? "->";
      if (
        arg &&
        this.roleOf(arg, f) === "vcpu" &&
        n.childForFieldName("field")?.text === "kvm" &&
        op === "->"
      )
        return "kvm";
    }
    return undefined;
  }

  private call(e: SyntaxNode, f: Frame): Val {
    const callee = this.req(e, "function", f);
    const argNodes = this.req(e, "arguments", f).namedChildren.filter((c) => c.type !== "comment");
    if (callee.type !== "identifier")
      this.fail(
        "unmodeled-construct",
        clip(callee.text),
        this.loc(f, e),
        "calls through pointers or expressions are not modeled",
      );
    const name = callee.text;
    if (this.lookupVar(name, f))
      this.fail(
        "unmodeled-construct",
        name,
        this.loc(f, e),
        "calls through a function pointer are not modeled",
      );

    const spellings = callSpellings(name);
    if (spellings.length || isFamilyCall(name)) {
      const args = argNodes.map((a) => this.eval(a, f));
      for (const s of spellings) {
        if (
          s.c.args.length === args.length &&
          s.c.args.every((p, i) => argMatches(p, args[i], this.macroValue))
        )
          return this.predicate(s.input, s.c, f, e);
      }
      // A member of a family (quirk:KVM_X86_QUIRK_X): the macro named as the argument, defined by the tree.
      const member = familyCall(name, argNodes, args, this.macroValue);
      if (member) return this.predicate(member.input, member.c, f, e);
      return this.fail(
        "unmodeled-call",
        name,
        this.loc(f, e),
        `${name}(${argNodes.map((a) => clip(a.text)).join(", ")}) matches no spelling of the vocabulary (${spellings.map((s) => s.input).join(", ")})`,
      );
    }

    const builtin = BUILTINS[name];
    if (builtin) {
      const r = builtin(argNodes.map((a) => this.eval(a, f)));
      if (r) return r;
    }

    const helper = this.helper(name);
    if (helper)
      return this.inline(
        name,
        helper,
        argNodes.map((a) => this.eval(a, f)),
        f,
        e,
      );

    const def = this.macroDef(name, f, e);
    if (def) {
      if (!def.params)
        return this.evalExpansion(
          name,
          `${expandOnce(def, undefined)}(${argNodes.map((a) => a.text).join(", ")})`,
          f,
          e,
        );
      let text: string;
      try {
        text = expandOnce(
          def,
          argNodes.map((a) => a.text),
        );
      } catch (err) {
        return this.fail(
          "unmodeled-construct",
          name,
          this.loc(f, e),
          `macro ${name}: ${(err as Error).message}`,
        );
      }
      return this.evalExpansion(name, text, f, e);
    }
    return this.fail(
      "unmodeled-call",
      name,
      this.loc(f, e),
      `call to ${name}(), which is neither in the vocabulary nor a static function or macro of the tree`,
    );
  }

  private predicate(input: string, c: CallSpelling, f: Frame, at: SyntaxNode): Val {
    return this.ok(predicate(input, c, this.env, this.macroValue), f, at);
  }

  /** A static function of the tree, from the function's own file or a header it includes. */
  private helper(name: string): HelperDef | null {
    let h = this.helpers.get(name);
    if (h === undefined) {
      h = staticHelper(this.tree, this.pp, name) ?? null;
      this.helpers.set(name, h);
    }
    return h;
  }

  private inline(name: string, h: HelperDef, args: Val[], f: Frame, at: SyntaxNode): Val {
    if (++this.depth > 16) this.fail("recursion", name, this.loc(f, at), "helpers nest deeper than 16 calls");
    try {
      const err = firstSyntaxError(h.node);
      if (err)
        this.fail(
          "parse-error",
          name,
          { file: h.file, line: lineOf(err) },
          `tree-sitter cannot parse helper ${name}()`,
        );
      const frame: Frame = { file: h.file, scope: [new Map()], fnName: name };
      const ps = this.params(h.node);
      const isVoidList = ps.length === 1 && ps[0].text === "void";
      const real = isVoidList ? [] : ps;
      if (real.length !== args.length)
        this.fail(
          "unmodeled-call",
          name,
          this.loc(f, at),
          `${name}() takes ${real.length} arguments, called with ${args.length}`,
        );
      real.forEach((p, i) => {
        const pname = declaredName(p.childForFieldName("declarator"));
        const type = this.typeOf(p.childForFieldName("type"), p.childForFieldName("declarator"), frame);
        if (pname) frame.scope[0].set(pname, { type, val: this.convert(args[i], type, frame, p) });
      });
      const ret = this.returnType(h.node, frame);
      try {
        this.execBody(h.node.childForFieldName("body")!, frame);
      } catch (e) {
        if (e instanceof ReturnSig) {
          if (!e.value) return int(0);
          return this.convert(e.value, ret, frame, e.node);
        }
        if (e instanceof GotoSig)
          this.fail(
            "unmodeled-construct",
            `goto ${e.label}`,
            { file: h.file, line: lineOf(e.node) },
            "goto out of a helper",
          );
        throw e;
      }
      if (ret.k !== "void")
        this.fail(
          "no-return",
          name,
          { file: h.file, line: h.node.endPosition.row + 1 },
          `${name}() ends without a return`,
        );
      return int(0);
    } finally {
      this.depth--;
    }
  }
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > 60 ? one.slice(0, 57) + "..." : one;
}

function constructName(n: SyntaxNode): string {
  const names: Record<string, string> = {
    switch_statement: "switch",
    for_statement: "for loop",
    while_statement: "while loop",
    do_statement: "do-while loop",
    break_statement: "break",
    continue_statement: "continue",
    sizeof_expression: "sizeof",
    pointer_expression: "pointer dereference or address-of",
    subscript_expression: "array subscript",
    string_literal: "string literal",
    char_literal: "character literal",
    compound_literal_expression: "compound literal",
    gnu_asm_expression: "inline assembly",
    preproc_call: "preprocessor directive",
    preproc_def: "#define",
    preproc_function_def: "#define",
  };
  return names[n.type] ?? n.type.replace(/_/g, " ");
}

let shapeCache: { config: object; byType: Map<string, BoundShape[]> } | undefined;

/** The active config's shapes by outermost node type (parsed once per config). */
function shapesByType(): ReadonlyMap<string, readonly BoundShape[]> {
  const config = activeConfig();
  if (shapeCache?.config !== config) {
    const byType = new Map<string, BoundShape[]>();
    for (const s of configShapes(config).shapes)
      byType.set(s.node.type, [...(byType.get(s.node.type) ?? []), s]);
    shapeCache = { config, byType };
  }
  return shapeCache.byType;
}
