// Emit stage: finding where each hunk goes in the target tree, with tree-sitter, from what the tree contains —
// never from line numbers or tables kept in kspec. Positions are JavaScript string indices of the file text.

import { InputError } from "../spec/errors.js";
import {
  defines,
  descendants,
  findFunctions,
  functionDeclarator,
  declaredName,
  parseC,
  type SyntaxNode,
} from "../checker/parse.js";

export { defines, descendants };
import type { KernelTree } from "../checker/tree.js";

export function readOrFail(tree: KernelTree, file: string, why: string): string {
  const t = tree.read(file);
  if (t === undefined) throw new InputError(`${file} is missing from the tree (needed for ${why})`);
  return t;
}

export function theFunction(
  tree: KernelTree,
  file: string,
  name: string,
): { text: string; node: SyntaxNode } {
  const text = readOrFail(tree, file, `${name}()`);
  const fns = findFunctions(parseC(text).rootNode, name);
  if (fns.length !== 1)
    throw new InputError(`${file}: expected one definition of ${name}(), found ${fns.length}`);
  return { text, node: fns[0] };
}

/** Index just after the end of the line holding `index` (after its newline). */
export function endOfLine(text: string, index: number): number {
  const nl = text.indexOf("\n", index);
  return nl < 0 ? text.length : nl + 1;
}

export function startOfLine(text: string, index: number): number {
  return text.lastIndexOf("\n", index - 1) + 1;
}

/** The leading whitespace of the line holding `index`. */
export function indentAt(text: string, index: number): string {
  const s = startOfLine(text, index);
  return /^[ \t]*/.exec(text.slice(s))![0];
}

export function insertAt(text: string, index: number, insertion: string): string {
  return text.slice(0, index) + insertion + text.slice(index);
}

export function replaceRange(text: string, start: number, end: number, replacement: string): string {
  return text.slice(0, start) + replacement + text.slice(end);
}

/** Parameters of a function definition or declarator: their texts and names. */
export function parameters(fnOrDeclarator: SyntaxNode): {
  list: SyntaxNode;
  params: { text: string; name?: string; type: string }[];
} {
  const fd =
    fnOrDeclarator.type === "function_declarator" ? fnOrDeclarator : functionDeclarator(fnOrDeclarator);
  const list = fd?.childForFieldName("parameters");
  if (!list) throw new InputError(`no parameter list at line ${fnOrDeclarator.startPosition.row + 1}`);
  const params = list.namedChildren
    .filter((p) => p.type === "parameter_declaration")
    .map((p) => ({
      text: p.text.replace(/\s+/g, " "),
      name: declaredName(p.childForFieldName("declarator")),
      type: p.childForFieldName("type")?.text ?? "",
    }));
  return { list, params };
}

/** Top-level declarations (prototypes) of `name` in a file: `u8 vmx_get_mt_mask(...);` */
export function prototypes(text: string, name: string): SyntaxNode[] {
  return descendants(parseC(text).rootNode, (n) => n.type === "declaration").filter((d) =>
    d
      .childrenForFieldName("declarator")
      .some((x) => x.type === "function_declarator" && declaredName(x) === name),
  );
}
