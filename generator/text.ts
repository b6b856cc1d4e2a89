// Emit stage (text): positions and edits in a file's text — lines, indentation, insertions, parameter lists.
// Positions are JavaScript string indices, as tree-sitter's nodes give them.

import { InputError } from "../spec/errors.js";
import { declaredName, functionDeclarator, type SyntaxNode } from "../kernel/parse.js";

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
