// Interpret stage: a C-subset interpreter that runs a kernel function for one assignment of the vocabulary
// inputs. Calls spelled as in the vocabulary read inputs; static helpers of the tree are inlined; macros are
// expanded from the tree's headers. Anything else stops the run with a named, located problem: the checker
// never guesses what unmodeled C does.

import type { SyntaxNode } from "./parse.js";
import {
  declaredName,
  findFunctions,
  firstSyntaxError,
  functionDeclarator,
  hasStorageClass,
  lineOf,
  parseC,
} from "./parse.js";
import { expandOnce, type Preprocessor } from "./cpp.js";
import { blockedKind, blockedMessage, type Blocked, type KernelTree } from "./tree.js";
import { need, type Env } from "../spec/evaluate.js";
import {
  VOCABULARY,
  CONFIG_PREFIX,
  memtypeCode,
  type ArgPattern,
  type CSpelling,
  type Role,
} from "../spec/vocabulary.js";

export interface CLoc {
  file: string;
  line: number;
}

export interface Problem extends CLoc {
  kind: string;
  name: string;
  message: string;
}

export class Unverifiable {
  constructor(readonly problem: Problem) {}
}

type IntV = { k: "int"; v: bigint };
type OpaqueV = { k: "opaque"; role?: Role; desc: string };
/** A register whose listed bits are inputs and whose other bits are unknown (slot->flags, CR0). */
type WordV = { k: "word"; desc: string; bits: { mask: bigint; input: string; macro: string }[] };
type Val = IntV | OpaqueV | WordV;

type CType = { k: "int"; bits: number; signed: boolean } | { k: "bool" } | { k: "ptr" } | { k: "void" };

const int = (v: bigint | number | boolean): IntV => ({
  k: "int",
  v: typeof v === "boolean" ? (v ? 1n : 0n) : BigInt(v),
});

const INT_TYPES: Record<string, [number, boolean]> = {
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

/** Parameter types that make a value of a role: the function is handed these, never computes them. */
const ROLE_TYPES: Record<string, Role> = {
  "struct kvm_vcpu": "vcpu",
  "struct kvm": "kvm",
  "struct kvm_memory_slot": "slot",
  gfn_t: "gfn",
  kvm_pfn_t: "pfn",
};

const BUILTINS: Record<string, (args: Val[]) => Val | undefined> = {
  __builtin_expect: (a) => a[0],
};

export interface InterpOptions {
  /** The memslot-flag macros that stand for the `slotFlag` input (from the flag specs). */
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

/** Runs one function; one instance serves every input assignment (helpers and macro parses are cached). */
export class Interpreter {
  private helpers = new Map<string, HelperDef | null>();
  private snippets = new Map<string, SyntaxNode | null>();
  private macroValues = new Map<string, bigint | Problem>();
  private env!: Env;
  private steps = 0;
  private usedFlagMacro?: string;
  private expanding: string[] = [];
  private depth = 0;

  constructor(
    readonly tree: KernelTree,
    readonly pp: Preprocessor,
    readonly fn: SyntaxNode,
    readonly file: string,
    readonly opts: InterpOptions,
  ) {}

  /** The mask the function returns for `env`, and the top-level return that produced it. Throws Need. */
  run(env: Env): { mask: number; ret: CLoc } {
    this.env = env;
    this.steps = 0;
    this.usedFlagMacro = undefined;
    this.expanding = [];
    this.depth = 0;
    const err = firstSyntaxError(this.fn);
    if (err) {
      this.fail(
        "parse-error",
        err.isMissing ? `missing ${err.type}` : "ERROR",
        { file: this.file, line: lineOf(err) },
        `tree-sitter cannot parse the function here (${err.isMissing ? `missing '${err.type}'` : `'${clip(err.text)}'`})`,
      );
    }
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
        return { mask: Number(BigInt.asUintN(32, (v as IntV).v)), ret: this.loc(frame, e.node) };
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

  private fail(kind: string, name: string, at: CLoc, message: string): never {
    throw new Unverifiable({ kind, name, file: at.file, line: at.line, message });
  }

  private loc(f: Frame, n: SyntaxNode): CLoc {
    return f.site ?? { file: f.file, line: lineOf(n) };
  }

  private tick(f: Frame, n: SyntaxNode): void {
    if (++this.steps > (this.opts.maxSteps ?? 100_000))
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
    const name = (typeNode?.text ?? "int").replace(/\s+/g, " ");
    if (name === "bool" || name === "_Bool") return { k: "bool" };
    if (name === "void") return { k: "void" };
    if (typeNode?.type === "enum_specifier") return { k: "int", bits: 32, signed: true };
    const it = INT_TYPES[name];
    if (it) return { k: "int", bits: it[0], signed: it[1] };
    this.fail("unmodeled-type", name, this.loc(f, typeNode ?? this.fn), `type '${name}' is not modeled`);
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

  private roleOf(p: SyntaxNode): Role | undefined {
    const t = p.childForFieldName("type");
    const text = (t?.text ?? "")
      .replace(/\bconst\b/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return ROLE_TYPES[text];
  }

  private bindTopParams(f: Frame): void {
    const mmio = VOCABULARY.find((d) => d.name === "isMmio")!.c.find((c) => c.kind === "param") as Extract<
      CSpelling,
      { kind: "param" }
    >;
    for (const p of this.params(this.fn)) {
      const name = declaredName(p.childForFieldName("declarator"));
      if (!name) continue;
      const type = this.typeOf(p.childForFieldName("type"), p.childForFieldName("declarator"), f);
      const role = this.roleOf(p);
      if (type.k === "bool" && mmio.names.includes(name)) f.scope[0].set(name, { type, input: "isMmio" });
      else f.scope[0].set(name, { type, val: { k: "opaque", role, desc: name } });
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
    if (t.k === "void") return v;
    if (t.k === "ptr") {
      if (v.k === "opaque" || (v.k === "int" && v.v === 0n)) return v;
      this.fail("unmodeled-value", describe(v), this.loc(f, at), `${describe(v)} used as a pointer`);
    }
    if (t.k === "bool") return int(this.truth(v, f, at));
    if (v.k === "int") return int(t.signed ? BigInt.asIntN(t.bits, v.v) : BigInt.asUintN(t.bits, v.v));
    if (v.k === "word" && v.bits.every((b) => b.mask < 1n << BigInt(t.bits))) return v;
    return this.fail(
      "unmodeled-value",
      describe(v),
      this.loc(f, at),
      `the value of ${describe(v)} is not modeled`,
    );
  }

  private truth(v: Val, f: Frame, at: SyntaxNode): boolean {
    if (v.k === "int") return v.v !== 0n;
    return this.fail(
      "unmodeled-value",
      describe(v),
      this.loc(f, at),
      `the truth of ${describe(v)} depends on state kspec does not model`,
    );
  }

  private num(v: Val, f: Frame, at: SyntaxNode): bigint {
    if (v.k === "int") return v.v;
    return this.fail(
      "unmodeled-value",
      describe(v),
      this.loc(f, at),
      `arithmetic on ${describe(v)} is not modeled`,
    );
  }

  eval(e: SyntaxNode, f: Frame): Val {
    this.tick(f, e);
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
    const x = this.num(a, f, at);
    const y = this.num(b, f, at);
    const rel = (ok: boolean) => {
      // C compares negative values differently when the other side is unsigned; kspec does not track that.
      if (x < 0n || y < 0n)
        this.fail(
          "unmodeled-value",
          "signed comparison",
          this.loc(f, at),
          "relational comparison of a negative value",
        );
      return int(ok);
    };
    switch (op) {
      case "+":
        return int(x + y);
      case "-":
        return int(x - y);
      case "*":
        return int(x * y);
      case "/":
      case "%":
        if (y === 0n) this.fail("unmodeled-value", "division by zero", this.loc(f, at), "division by zero");
        if (x < 0n || y < 0n)
          this.fail("unmodeled-value", "signed division", this.loc(f, at), "division of a negative value");
        return int(op === "/" ? x / y : x % y);
      case "<<":
        if (y < 0n || y > 127n) this.fail("unmodeled-value", "shift", this.loc(f, at), `shift by ${y}`);
        return int(x << y);
      case ">>":
        if (y < 0n || y > 127n) this.fail("unmodeled-value", "shift", this.loc(f, at), `shift by ${y}`);
        return int(x >> y);
      case "&":
        return int(x & y);
      case "|":
        return int(x | y);
      case "^":
        return int(x ^ y);
      case "==":
        return int(x === y);
      case "!=":
        return int(x !== y);
      case "<":
        return rel(x < y);
      case ">":
        return rel(x > y);
      case "<=":
        return rel(x <= y);
      case ">=":
        return rel(x >= y);
    }
    return this.fail("unmodeled-construct", op, this.loc(f, at), `operator '${op}' is not modeled`);
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
    if (w.desc.endsWith("->flags")) {
      if (this.usedFlagMacro && this.usedFlagMacro !== bit.macro) {
        this.fail(
          "ambiguous-flag",
          bit.macro,
          this.loc(f, at),
          `the function tests both ${this.usedFlagMacro} and ${bit.macro}; slotFlag can stand for one`,
        );
      }
      this.usedFlagMacro = bit.macro;
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
    if (base.role === "slot" && name === "flags" && arrow === "->") {
      const bits: WordV["bits"] = [];
      for (const macro of this.opts.flagMacros) {
        const v = this.macroValue(macro);
        if (typeof v === "bigint") bits.push({ mask: v, input: "slotFlag", macro });
      }
      return { k: "word", desc, bits };
    }
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

  /** The tree's value of a constant macro, cached; a Problem when it has none. */
  macroValue(name: string): bigint | Problem {
    let v = this.macroValues.get(name);
    if (v !== undefined) return v;
    const f: Frame = {
      file: this.file,
      scope: [new Map()],
      fnName: name,
      site: { file: this.file, line: 0 },
    };
    try {
      const r = this.expandObject(name, f, this.fn);
      v =
        r.k === "int"
          ? r.v
          : { kind: "unmodeled-value", name, file: this.file, line: 0, message: `${name} is not a constant` };
    } catch (e) {
      if (!(e instanceof Unverifiable)) throw e;
      v = e.problem;
    }
    this.macroValues.set(name, v);
    return v;
  }

  private macroDef(name: string, f: Frame, at: SyntaxNode) {
    const defs = this.pp.lookup(name);
    if (defs.length > 1) {
      this.fail(
        "ambiguous-macro",
        name,
        this.loc(f, at),
        `${name} has ${defs.length} different definitions in the tree (${defs
          .slice(0, 3)
          .map((d) => `${d.file}:${d.line}`)
          .join(", ")}); which one applies depends on configuration`,
      );
    }
    return defs[0];
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
    return this.evalExpansion(name, expandOnce(def, undefined), f, at);
  }

  private evalExpansion(name: string, text: string, f: Frame, at: SyntaxNode): Val {
    if (this.expanding.includes(name) || this.expanding.length > 64) {
      this.fail("unmodeled-construct", name, this.loc(f, at), `macro ${name} expands to itself`);
    }
    const node = this.snippet(text);
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

  private snippet(text: string): SyntaxNode | null {
    let n = this.snippets.get(text);
    if (n === undefined) {
      const root = parseC(`int __kspec_v = (${text}\n);`).rootNode;
      const decl = root.namedChildren[0];
      const init = decl?.type === "declaration" ? decl.childForFieldName("declarator") : null;
      n = !root.hasError && init?.type === "init_declarator" ? init.childForFieldName("value") : null;
      this.snippets.set(text, n);
    }
    return n;
  }

  // ---- calls -----------------------------------------------------------------------------------------------

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

    const spellings = VOCABULARY.flatMap((d) =>
      d.c
        .filter((c) => c.kind === "call" && c.fn === name)
        .map((c) => ({ input: d.name, c: c as Extract<CSpelling, { kind: "call" }> })),
    );
    if (spellings.length) {
      const args = argNodes.map((a) => this.eval(a, f));
      for (const s of spellings) {
        if (s.c.args.length === args.length && s.c.args.every((p, i) => this.argMatches(p, args[i])))
          return this.predicate(s.input, s.c, f, e);
      }
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

  private argMatches(p: ArgPattern, v: Val): boolean {
    if ("role" in p) return v.k === "opaque" && v.role === p.role;
    const want = this.macroValue(p.macro);
    return typeof want === "bigint" && v.k === "int" && v.v === want;
  }

  private predicate(input: string, c: Extract<CSpelling, { kind: "call" }>, f: Frame, at: SyntaxNode): Val {
    const r = c.returns;
    if (r === "bool") return int(need(this.env, input) === true);
    if (r === "memtype") return int(memtypeCode(need(this.env, input)));
    const macro = "bits" in r ? r.bits : r.word;
    const m = this.macroValue(macro);
    if (typeof m !== "bigint") return this.fail(m.kind, m.name, this.loc(f, at), m.message);
    if ("word" in r) return { k: "word", desc: `${c.fn}()`, bits: [{ mask: m, input, macro }] };
    return int(need(this.env, input) === true ? m : 0n);
  }

  /** A static function of the tree, from the function's own file or a header it includes. */
  private helper(name: string): HelperDef | null {
    let h = this.helpers.get(name);
    if (h !== undefined) return h;
    h = null;
    const re = new RegExp(`\\b${name}\\s*\\(`);
    for (const file of [this.file, ...this.pp.includeClosure().filter((x) => x !== this.file)]) {
      const text = this.tree.read(file);
      if (!text || !re.test(text)) continue;
      const defs = findFunctions(parseC(text, file).rootNode, name).filter((d) =>
        hasStorageClass(d, "static"),
      );
      if (defs.length) {
        h = { node: defs[defs.length - 1], file };
        break;
      }
    }
    this.helpers.set(name, h);
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

export function parseNumber(text: string): bigint | undefined {
  const t = text.replace(/[uUlL]+$/, "").replace(/'/g, "");
  if (/^0[xX][0-9a-fA-F]+$/.test(t) || /^0[bB][01]+$/.test(t)) return BigInt(t);
  if (/^0[0-7]*$/.test(t)) return BigInt("0o" + (t.slice(1) || "0"));
  if (/^[1-9]\d*$/.test(t)) return BigInt(t);
  return undefined;
}

function describe(v: Val): string {
  return v.k === "int" ? String(v.v) : v.desc;
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

/** The tree's value of constant macros as seen from `file` (its include closure): for the generator. */
export function constantsOf(tree: KernelTree, pp: Preprocessor): (name: string) => bigint | undefined {
  const dummy = parseC("int __kspec_constants(void)\n{\n\treturn 0;\n}\n").rootNode.namedChildren[0];
  const interp = new Interpreter(tree, pp, dummy, pp.rootFile, { flagMacros: [] });
  return (name) => {
    const v = interp.macroValue(name);
    return typeof v === "bigint" ? v : undefined;
  };
}
