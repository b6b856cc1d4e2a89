// Parse stage: tree-sitter-c over kernel sources — whole files or one byte range of a file — with per-text
// caching and helpers for locations and errors.

import type ParserType from "tree-sitter";
import { requirePackage } from "../spec/packages.js";

export type SyntaxNode = ParserType.SyntaxNode;

let theParser: ParserType | undefined;
function parser(): ParserType {
  if (!theParser) {
    const Parser = requirePackage<typeof ParserType>("tree-sitter");
    theParser = new Parser();
    theParser.setLanguage(requirePackage<ParserType.Language>("tree-sitter-c"));
  }
  return theParser;
}
const cache = new Map<string, ParserType.Tree>();
/** Names of the files parsed so far (benchmarks parse the same files with tree-sitter alone). */
export const parsedFiles = new Set<string>();

const CACHE_SIZE = 16;

export function parseC(text: string, name?: string): ParserType.Tree {
  const hit = cache.get(text);
  if (hit) {
    cache.delete(text);
    cache.set(text, hit);
    return hit;
  }
  if (name) parsedFiles.add(name);
  // tree-sitter's default read callback takes strings in 32 KiB chunks; kernel files are larger.
  const tree = parser().parse((i: number) => text.slice(i, i + 65536));
  // A small LRU: a run parses a handful of files, but a fuzzer or a mutation run parses thousands of versions
  // of vmx.c, and each tree of it holds tens of megabytes.
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(text, tree);
  return tree;
}

/**
 * A few lines of C made up by kspec (a macro's body as an expression), parsed without the file cache: hundreds of
 * them would push the parses of real files out of it.
 */
export function parseSnippet(text: string): ParserType.Tree {
  return parser().parse(text);
}

const ranged = new Map<string, Map<string, ParserType.Tree>>();

/** Row and column of a string index (rows and columns as tree-sitter counts them: 0-based). */
function pointAt(text: string, index: number): ParserType.Point {
  let row = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) row++;
  return { row, column: index - (text.lastIndexOf("\n", index - 1) + 1) };
}

/**
 * The parse of one byte range of a file (tree-sitter's included ranges): nodes keep the file's rows, columns and
 * string indices, error recovery elsewhere in the file cannot swallow the range, and a large file is not parsed
 * whole to read one function.
 */
export function parseRange(text: string, start: number, end: number): ParserType.Tree {
  let byRange = ranged.get(text);
  if (!byRange) {
    if (ranged.size >= CACHE_SIZE) ranged.delete(ranged.keys().next().value!);
    ranged.set(text, (byRange = new Map()));
  }
  const key = `${start}:${end}`;
  let tree = byRange.get(key);
  if (!tree) {
    tree = parser().parse((i: number) => text.slice(i, i + 65536), undefined, {
      includedRanges: [
        {
          startIndex: start,
          endIndex: end,
          startPosition: pointAt(text, start),
          endPosition: pointAt(text, end),
        },
      ],
    });
    byRange.set(key, tree);
  }
  return tree;
}

/** 1-based line of a node. */
export function lineOf(n: SyntaxNode): number {
  return n.startPosition.row + 1;
}

/** The first ERROR or MISSING node inside `n`, if any. */
export function firstSyntaxError(n: SyntaxNode): SyntaxNode | undefined {
  if (!n.hasError) return undefined;
  if (n.type === "ERROR" || n.isMissing) return n;
  for (const c of n.children) {
    const e = firstSyntaxError(c);
    if (e) return e;
  }
  return n.isMissing ? n : undefined;
}

/** Every ERROR or MISSING node of a tree (for "re-parses with zero ERROR/MISSING"). */
export function syntaxErrors(n: SyntaxNode, out: SyntaxNode[] = []): SyntaxNode[] {
  if (n.type === "ERROR" || n.isMissing) out.push(n);
  if (n.hasError) for (const c of n.children) syntaxErrors(c, out);
  return out;
}

/**
 * Every node of the given type(s) under `n` (itself included), in document order, that `pred` accepts. The
 * search runs in tree-sitter's native code: walking children from JavaScript costs several times more.
 */
export function descendants(
  n: SyntaxNode,
  types: string | readonly string[],
  pred: (n: SyntaxNode) => boolean = () => true,
): SyntaxNode[] {
  return n.descendantsOfType(types as string | string[]).filter(pred);
}

/** Object-like `#define NAME VALUE` nodes anywhere in a file whose name matches, in order. */
export function defines(
  text: string,
  name: RegExp,
): { name: string; value: string; line: number; node: SyntaxNode }[] {
  return descendants(parseC(text).rootNode, "preproc_def")
    .map((node) => ({
      name: node.childForFieldName("name")!.text,
      value: node.childForFieldName("value")?.text.trim() ?? "",
      line: lineOf(node),
      node,
    }))
    .filter((d) => name.test(d.name));
}

/** The name a function_definition (or declaration) declares, looking through pointer declarators. */
export function declaredName(decl: SyntaxNode | null): string | undefined {
  let d = decl;
  while (d) {
    if (d.type === "identifier" || d.type === "field_identifier") return d.text;
    d = d.childForFieldName("declarator");
  }
  return undefined;
}

/** The function declarator of a definition, a declaration's declarator, or a declarator itself. */
export function functionDeclarator(n: SyntaxNode): SyntaxNode | undefined {
  let d: SyntaxNode | null = n.type.endsWith("declarator") ? n : n.childForFieldName("declarator");
  while (d && d.type !== "function_declarator") d = d.childForFieldName("declarator");
  return d ?? undefined;
}

export function hasStorageClass(def: SyntaxNode, cls: string): boolean {
  return def.namedChildren.some((c) => c.type === "storage_class_specifier" && c.text === cls);
}
