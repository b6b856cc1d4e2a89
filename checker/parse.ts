// Parse stage: tree-sitter-c over kernel sources, with per-text caching and helpers for locations and errors.

import Parser from "tree-sitter";
import C from "tree-sitter-c";

export type SyntaxNode = Parser.SyntaxNode;

let parser: Parser | undefined;
const cache = new Map<string, Parser.Tree>();
/** Names of the files parsed so far (benchmarks parse the same files with tree-sitter alone). */
export const parsedFiles = new Set<string>();

const CACHE_SIZE = 16;

export function parseC(text: string, name?: string): Parser.Tree {
  const hit = cache.get(text);
  if (hit) {
    cache.delete(text);
    cache.set(text, hit);
    return hit;
  }
  if (name) parsedFiles.add(name);
  parser ??= (() => {
    const p = new Parser();
    p.setLanguage(C as unknown as Parser.Language);
    return p;
  })();
  // tree-sitter's default read callback takes strings in 32 KiB chunks; kernel files are larger.
  const tree = parser.parse((i: number) => text.slice(i, i + 65536));
  // A small LRU: a run parses a handful of files, but a fuzzer or a mutation run parses thousands of versions
  // of vmx.c, and each tree of it holds tens of megabytes.
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(text, tree);
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

/** Every node under `n` (itself included) that `pred` accepts, in document order. */
export function descendants(n: SyntaxNode, pred: (n: SyntaxNode) => boolean): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const visit = (x: SyntaxNode): void => {
    if (pred(x)) out.push(x);
    for (const c of x.namedChildren) visit(c);
  };
  visit(n);
  return out;
}

/** Object-like `#define NAME VALUE` nodes anywhere in a file whose name matches, in order. */
export function defines(
  text: string,
  name: RegExp,
): { name: string; value: string; line: number; node: SyntaxNode }[] {
  return descendants(parseC(text).rootNode, (n) => n.type === "preproc_def")
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

export function functionDeclarator(def: SyntaxNode): SyntaxNode | undefined {
  let d = def.childForFieldName("declarator");
  while (d && d.type !== "function_declarator") d = d.childForFieldName("declarator");
  return d ?? undefined;
}

/** Top-level function definitions of a file named `name`. */
export function findFunctions(root: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const visit = (n: SyntaxNode) => {
    for (const c of n.namedChildren) {
      if (c.type === "function_definition") {
        const fd = functionDeclarator(c);
        if (fd && declaredName(fd) === name) out.push(c);
      } else if (
        c.type.startsWith("preproc_") ||
        c.type === "linkage_specification" ||
        c.type === "declaration_list"
      ) {
        visit(c);
      }
    }
  };
  visit(root);
  return out;
}

export function hasStorageClass(def: SyntaxNode, cls: string): boolean {
  return def.namedChildren.some((c) => c.type === "storage_class_specifier" && c.text === cls);
}
