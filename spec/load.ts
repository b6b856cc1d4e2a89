// Load stage: reading a policy, proposal or flag file. The file is parsed (@babel/parser, TypeScript syntax) and
// its default export read as a literal — never executed, so a policy file from a patch or a colleague is only ever data.

import { existsSync, readFileSync } from "node:fs";
import { relative, isAbsolute } from "node:path";
import { ROOT, SPEC_CACHE } from "./root.js";
import type { Loc } from "./ir.js";
import { SpecError, type SpecProblem } from "./errors.js";
import { readBounded, TooLarge } from "./files.js";
import { requirePackage } from "./packages.js";

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
export type Path = readonly (string | number)[];

export type SpecKind = "policy" | "proposal" | "flag";

export interface LoadedFile {
  kind: SpecKind;
  file: string;
  value: Json;
  /** Location of the value at `path` (of the property key for object members), or the nearest ancestor's. */
  locOf(path: Path): Loc;
}

/** Paths in messages are relative to the working directory when inside it: `spec/policies/linux-6.1.ts:12:5`. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

const LIMIT = 1 << 20;

export async function loadSpecFile(file: string): Promise<LoadedFile> {
  const shown = displayPath(file);
  let text: string;
  try {
    text = readBounded(file, LIMIT, shown).toString("utf8");
  } catch (e) {
    throw new SpecError([
      {
        kind: e instanceof TooLarge ? "too-large" : "unreadable",
        loc: { file: shown, line: 1, col: 1 },
        message: e instanceof TooLarge ? `larger than ${LIMIT} bytes` : (e as Error).message,
      },
    ]);
  }
  const cached = fromCache(file, text, shown);
  return cached ?? parseSpecText(text, shown);
}

export interface CacheEntry {
  /** The file's text when it was read: the entry is used only for the same text (a hash would load node:crypto). */
  text: string;
  kind: SpecKind;
  value: Json;
  locs: [string, number, number][];
}

let cache: Record<string, CacheEntry> | undefined;

/** A built-in file as read at build time, if its text is still the same. */
function fromCache(file: string, text: string, shown: string): LoadedFile | undefined {
  const rel = relative(ROOT, file);
  if (rel.startsWith("..") || isAbsolute(rel)) return undefined;
  if (cache === undefined) {
    try {
      cache = existsSync(SPEC_CACHE)
        ? (JSON.parse(readFileSync(SPEC_CACHE, "utf8")).files as Record<string, CacheEntry>)
        : {};
    } catch {
      cache = {};
    }
  }
  const e = cache[rel];
  if (!e || e.text !== text) return undefined;
  const locs = new Map(e.locs.map(([k, line, col]) => [k, { file: shown, line, col }]));
  return {
    kind: e.kind,
    file: shown,
    value: e.value,
    locOf: locator(locs, { file: shown, line: 1, col: 1 }),
  };
}

export function toCacheEntry(text: string, f: LoadedFile & { locs: Map<string, Loc> }): CacheEntry {
  return {
    text,
    kind: f.kind,
    value: f.value,
    locs: [...f.locs].map(([k, l]) => [k, l.line, l.col]),
  };
}

const KEY_SEP = "\u0000";

function locator(locs: ReadonlyMap<string, Loc>, fallback: Loc): (path: Path) => Loc {
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const l = locs.get(path.slice(0, n).join(KEY_SEP));
      if (l) return l;
    }
    return fallback;
  };
}

/** Nodes of @babel/parser's AST, as far as this reader looks at them. */
interface BNode {
  type: string;
  start: number;
  end: number;
  loc: { start: { line: number; column: number } };
  [k: string]: unknown;
}

// Type-only wrappers and parentheses around a value: `{...} as const`, `satisfies X`, `(x)`, `x!`.
const TRANSPARENT = new Set([
  "TSAsExpression",
  "TSSatisfiesExpression",
  "TSNonNullExpression",
  "TSTypeAssertion",
  "ParenthesizedExpression",
]);

const DEFINERS: Record<string, SpecKind> = {
  definePolicy: "policy",
  defineProposal: "proposal",
  defineFlag: "flag",
};

/**
 * Reads a policy, proposal or flag file. @babel/parser is the TypeScript reader because it loads in ~15 ms where
 * the TypeScript compiler takes ~200 ms, and a user's policy file is read on every `check`: only the syntax is
 * needed, since the file is data and is never type-checked or run by kspec.
 */
export async function parseSpecText(
  text: string,
  shown: string,
): Promise<LoadedFile & { locs: Map<string, Loc> }> {
  const { parse } = requirePackage<typeof import("@babel/parser")>("@babel/parser");
  const at = (n: BNode | undefined) => locAt(shown, n);
  const syntaxError = (message: string, line: number, column: number): SpecProblem => ({
    kind: "syntax",
    loc: { file: shown, line, col: column + 1 },
    // Babel appends the position, which the location already says.
    message: `syntax error: ${message.replace(/ \(\d+:\d+\)$/, "")}`,
  });

  let program: { body: BNode[] };
  try {
    const file = parse(text, {
      sourceType: "module",
      plugins: ["typescript"],
      errorRecovery: true,
      createParenthesizedExpressions: true,
    });
    const recovered = (file.errors ?? []) as unknown as {
      reasonCode?: string;
      message: string;
      loc: { line: number; column: number };
    }[];
    if (recovered.length) {
      throw new SpecError(recovered.map((e) => syntaxError(e.message, e.loc.line, e.loc.column)));
    }
    program = file.program as unknown as { body: BNode[] };
  } catch (e) {
    if (e instanceof SpecError) throw e;
    const err = e as Error & { loc?: { line: number; column: number } };
    throw new SpecError([syntaxError(err.message, err.loc?.line ?? 1, err.loc?.column ?? 0)]);
  }

  const exp = program.body.find((n) => n.type === "ExportDefaultDeclaration");
  if (!exp) {
    throw new SpecError([
      {
        kind: "no-default-export",
        loc: at(undefined),
        message: "no `export default definePolicy({...})`, `defineProposal({...})` or `defineFlag({...})`",
      },
    ]);
  }

  let expr = exp.declaration as BNode;
  let kind: SpecKind | undefined;
  for (;;) {
    if (TRANSPARENT.has(expr.type)) {
      expr = expr.expression as BNode;
    } else if (expr.type === "CallExpression") {
      const callee = expr.callee as BNode;
      const k = callee.type === "Identifier" ? DEFINERS[callee.name as string] : undefined;
      const args = expr.arguments as BNode[];
      if (!k || args.length !== 1) break;
      kind = k;
      expr = args[0];
    } else break;
  }
  if (!kind || expr.type !== "ObjectExpression") {
    throw new SpecError([
      {
        kind: "no-default-export",
        loc: at(exp),
        message:
          "the default export must be definePolicy({...}), defineProposal({...}) or defineFlag({...}) with an object literal",
      },
    ]);
  }

  const r = literalOf(expr, text, shown);
  return { kind, file: shown, value: r.value, locs: r.locs, locOf: r.locOf };
}

/** Where a babel node starts, as a location of `shown`. */
function locAt(shown: string, n: { loc: { start: { line: number; column: number } } } | undefined): Loc {
  return n
    ? { file: shown, line: n.loc.start.line, col: n.loc.start.column + 1 }
    : { file: shown, line: 1, col: 1 };
}

/**
 * A literal expression (objects, arrays, strings, numbers, booleans) read as data, with the location of every
 * value; anything computed is a not-literal problem, a key given twice a duplicate-key problem.
 */
function literalOf(
  expr: BNode,
  text: string,
  shown: string,
): { value: Json; locs: Map<string, Loc>; locOf: (path: Path) => Loc } {
  const at = (n: BNode | undefined) => locAt(shown, n);
  const src = (n: BNode) => text.slice(n.start, n.end);
  const locs = new Map<string, Loc>();
  const errors: SpecProblem[] = [];
  const key = (p: Path) => p.join(KEY_SEP);
  const notLiteral = (node: BNode) =>
    errors.push({
      kind: "not-literal",
      loc: at(node),
      message: `policy files are data: '${truncate(src(node))}' is not a literal`,
    });

  const read = (node: BNode, path: Path): Json => {
    locs.set(key(path), locs.get(key(path)) ?? at(node));
    if (TRANSPARENT.has(node.type)) return read(node.expression as BNode, path);
    switch (node.type) {
      case "StringLiteral":
      case "NumericLiteral":
      case "BooleanLiteral":
        return node.value as Json;
      case "TemplateLiteral": {
        const quasis = node.quasis as { value: { cooked: string | null } }[];
        if ((node.expressions as unknown[]).length === 0 && quasis[0].value.cooked !== null)
          return quasis[0].value.cooked;
        break;
      }
      case "UnaryExpression": {
        const arg = node.argument as BNode;
        if (node.operator === "-" && arg.type === "NumericLiteral") return -(arg.value as number);
        break;
      }
      case "ArrayExpression":
        return (node.elements as (BNode | null)[]).map((el, i) => {
          if (el && el.type !== "SpreadElement") return read(el, [...path, i]);
          if (el) notLiteral(el);
          else
            errors.push({
              kind: "not-literal",
              loc: at(node),
              message: "policy files are data: an array hole is not a literal",
            });
          return null;
        });
      case "ObjectExpression": {
        const out: { [k: string]: Json } = {};
        for (const prop of node.properties as BNode[]) {
          const k = prop.key as BNode | undefined;
          if (prop.type !== "ObjectProperty" || prop.computed || prop.shorthand || !k) {
            errors.push({
              kind: "not-literal",
              loc: at(prop),
              message: "policy files are data: only `key: value` properties are allowed here",
            });
            continue;
          }
          const name = k.type === "Identifier" ? (k.name as string) : String(k.value);
          if (Object.prototype.hasOwnProperty.call(out, name)) {
            errors.push({ kind: "duplicate-key", loc: at(prop), message: `duplicate key '${name}'` });
          }
          locs.set(key([...path, name]), at(prop));
          // defineProperty: a key spelled `__proto__` is data too, not the object's prototype.
          Object.defineProperty(out, name, {
            value: read(prop.value as BNode, [...path, name]),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
    }
    notLiteral(node);
    return null;
  };

  const value = read(expr, []);
  if (errors.length) throw new SpecError(errors);
  return { value, locs, locOf: locator(locs, at(undefined)) };
}

/**
 * A JSON file (kspec.config.json) read with the location of every value: JSON.parse decides what is JSON (and
 * where it is not), the babel parser gives the positions.
 */
export function parseJsonText(text: string, shown: string): { value: Json; locOf: (path: Path) => Loc } {
  try {
    JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const before = pos ? text.slice(0, Number(pos[1])).split("\n") : ["", ""];
    throw new SpecError([
      {
        kind: "syntax",
        loc: { file: shown, line: before.length, col: before[before.length - 1].length + 1 },
        message: `not JSON: ${msg.replace(/ in JSON at position \d+.*$/, "")}`,
      },
    ]);
  }
  const { parseExpression } = requirePackage<typeof import("@babel/parser")>("@babel/parser");
  const expr = parseExpression(text, { createParenthesizedExpressions: true }) as unknown as BNode;
  const r = literalOf(expr, text, shown);
  return { value: r.value, locOf: r.locOf };
}

function truncate(s: string): string {
  const one = s.replace(/\s+/g, " ");
  return one.length > 40 ? one.slice(0, 37) + "..." : one;
}
