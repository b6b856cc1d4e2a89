// Load stage: reading a policy or proposal file. The file is parsed with ts-morph and its default export read
// as a literal — never executed, so a policy file from a patch or a colleague is only ever data.

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { relative, isAbsolute } from "node:path";
import { ROOT, SPEC_CACHE } from "./root.js";
import type { Loc } from "./ir.js";
import { SpecError, type SpecProblem } from "./errors.js";
import { readBounded, TooLarge } from "./files.js";

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

// ts-morph costs ~0.4 s to load; only the first policy file read pays it.
let projectPromise: Promise<import("ts-morph").Project> | undefined;
async function project(): Promise<import("ts-morph").Project> {
  projectPromise ??= import("ts-morph").then(
    (m) => new m.Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: false } }),
  );
  return projectPromise;
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
  sha256: string;
  kind: SpecKind;
  value: Json;
  locs: [string, number, number][];
}

let cache: Record<string, CacheEntry> | undefined;

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

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
  if (!e || e.sha256 !== sha256(text)) return undefined;
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
    sha256: sha256(text),
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

export async function parseSpecText(
  text: string,
  shown: string,
): Promise<LoadedFile & { locs: Map<string, Loc> }> {
  const m = await import("ts-morph");
  const { Node, SyntaxKind } = m;
  const proj = await project();
  const sf = proj.createSourceFile(`/in-memory/${proj.getSourceFiles().length}.ts`, text, {
    overwrite: true,
  });
  const at = (pos: number): Loc => {
    const { line, column } = sf.getLineAndColumnAtPos(pos);
    return { file: shown, line, col: column };
  };

  const syntax = proj.getProgram().getSyntacticDiagnostics(sf);
  if (syntax.length > 0) {
    throw new SpecError(
      syntax.map((d) => ({
        kind: "syntax",
        loc: at(d.getStart() ?? 0),
        message: `syntax error: ${flatten(d.getMessageText())}`,
      })),
    );
  }

  const exp = sf.getExportAssignments().find((e) => !e.isExportEquals());
  if (!exp) {
    throw new SpecError([
      {
        kind: "no-default-export",
        loc: at(0),
        message: "no `export default definePolicy({...})`, `defineProposal({...})` or `defineFlag({...})`",
      },
    ]);
  }

  let expr = exp.getExpression();
  let kind: SpecKind | undefined;
  for (;;) {
    if (
      Node.isAsExpression(expr) ||
      Node.isSatisfiesExpression(expr) ||
      Node.isParenthesizedExpression(expr)
    ) {
      expr = expr.getExpression();
    } else if (Node.isCallExpression(expr)) {
      const callee = expr.getExpression().getText();
      if (callee === "definePolicy") kind = "policy";
      else if (callee === "defineProposal") kind = "proposal";
      else if (callee === "defineFlag") kind = "flag";
      else break;
      const args = expr.getArguments();
      if (args.length !== 1) break;
      expr = args[0] as import("ts-morph").Expression;
    } else break;
  }
  if (!kind || !Node.isObjectLiteralExpression(expr)) {
    throw new SpecError([
      {
        kind: "no-default-export",
        loc: at(exp.getStart()),
        message:
          "the default export must be definePolicy({...}), defineProposal({...}) or defineFlag({...}) with an object literal",
      },
    ]);
  }

  const locs = new Map<string, Loc>();
  const errors: SpecProblem[] = [];
  const key = (p: Path) => p.join(KEY_SEP);

  const read = (node: import("ts-morph").Node, path: Path): Json => {
    locs.set(key(path), locs.get(key(path)) ?? at(node.getStart()));
    if (
      Node.isAsExpression(node) ||
      Node.isSatisfiesExpression(node) ||
      Node.isParenthesizedExpression(node)
    ) {
      return read(node.getExpression(), path);
    }
    if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node))
      return node.getLiteralValue();
    if (Node.isNumericLiteral(node)) return node.getLiteralValue();
    if (node.getKind() === SyntaxKind.TrueKeyword) return true;
    if (node.getKind() === SyntaxKind.FalseKeyword) return false;
    if (Node.isPrefixUnaryExpression(node) && node.getOperatorToken() === SyntaxKind.MinusToken) {
      const inner = node.getOperand();
      if (Node.isNumericLiteral(inner)) return -inner.getLiteralValue();
    }
    if (Node.isArrayLiteralExpression(node)) {
      return node.getElements().map((el, i) => read(el, [...path, i]));
    }
    if (Node.isObjectLiteralExpression(node)) {
      const out: { [k: string]: Json } = {};
      for (const prop of node.getProperties()) {
        if (!Node.isPropertyAssignment(prop)) {
          errors.push({
            kind: "not-literal",
            loc: at(prop.getStart()),
            message: "policy files are data: only `key: value` properties are allowed here",
          });
          continue;
        }
        const nameNode = prop.getNameNode();
        const name = Node.isStringLiteral(nameNode) ? nameNode.getLiteralValue() : nameNode.getText();
        const init = prop.getInitializerOrThrow();
        if (Object.prototype.hasOwnProperty.call(out, name)) {
          errors.push({
            kind: "duplicate-key",
            loc: at(prop.getStart()),
            message: `duplicate key '${name}'`,
          });
        }
        locs.set(key([...path, name]), at(prop.getStart()));
        out[name] = read(init, [...path, name]);
      }
      return out;
    }
    errors.push({
      kind: "not-literal",
      loc: at(node.getStart()),
      message: `policy files are data: '${truncate(node.getText())}' is not a literal`,
    });
    return null;
  };

  const value = read(expr, []);
  if (errors.length) throw new SpecError(errors);
  return { kind, file: shown, value, locs, locOf: locator(locs, at(0)) };
}

function flatten(m: string | { getMessageText(): string }): string {
  return typeof m === "string" ? m : m.getMessageText();
}

function truncate(s: string): string {
  const one = s.replace(/\s+/g, " ");
  return one.length > 40 ? one.slice(0, 37) + "..." : one;
}
