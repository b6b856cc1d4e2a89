// Locate stage: where a C function is defined in a kernel tree — the one lookup the checker and the generator
// share. A light scan of the text finds the top-level bodies whose head names the function; tree-sitter then
// parses only that byte range. So a definition is found, and read cleanly, even where tree-sitter's error
// recovery over the whole file wraps it in an ERROR node (Linux 5.8 and 5.19 vmx.c), and a large file is not
// parsed whole to read one function.

import { InputError } from "../spec/errors.js";
import type { Preprocessor } from "./cpp.js";
import {
  declaredName,
  descendants,
  firstSyntaxError,
  functionDeclarator,
  hasStorageClass,
  lineOf,
  parseC,
  parseRange,
  type SyntaxNode,
} from "./parse.js";
import { asking, blockedKind, blockedMessage, Q, use, type Blocked, type KernelTree } from "./tree.js";

export const DEFAULT_FUNCTION = "vmx_get_mt_mask";
/** Where vmx_get_mt_mask() has lived: vmx.c (arch/x86/kvm/vmx.c before 4.20), always under arch/x86/kvm. */
export const SEARCH_DIR = "arch/x86/kvm";

export interface FunctionInfo {
  name: string;
  file: string;
  line: number;
}

export interface Located {
  info: FunctionInfo;
  /** The function_definition, from a parse of its own byte range: positions are those of the file. */
  node: SyntaxNode;
  /** Files under the search directory kspec refused to read: one of them could define the function too. */
  blocked: Blocked[];
}

interface TopItem {
  /** Where the item's head starts: after the previous top-level item, directive or statement. */
  head: number;
  open: number;
  close: number;
}

/** The top-level items of a text; `balanced`: no brace closed a block the scan had not seen open. */
type TopItems = TopItem[] & { balanced?: boolean };

const scans = new Map<string, TopItems>();

/**
 * The top-level brace pairs of a C file with where their heads start, skipping comments, string and character
 * literals and preprocessor directives. A pre-filter only: tree-sitter decides what each range holds.
 */
export function topLevelBodies(text: string): TopItems {
  const hit = scans.get(text);
  if (hit) return hit;
  const items: TopItems = [];
  let balanced = true;
  let depth = 0;
  let head = 0;
  let open = -1;
  const conds: { depth: number; end: number }[] = [];
  const n = text.length;
  // Only these characters matter; a regex jumps from one to the next (a kernel file is mostly other text).
  const SIGNIFICANT = /[{}"'/#;]/g;
  for (let m = SIGNIFICANT.exec(text); m; m = SIGNIFICANT.exec(text)) {
    let i = m.index;
    const c = text.charCodeAt(i);
    if (c === 35 /* # */) {
      // A directive only where the line holds nothing before the '#'.
      const bol = text.lastIndexOf("\n", i - 1) + 1;
      if (bol < i && !/^[ \t]*$/.test(text.slice(bol, i))) continue;
      // Braces are counted in the first branch of an #if only: kernel code often opens the same block in each
      // branch (`#ifdef X` `if (a) {` `#else` `if (b) {` `#endif`), and the compiler sees one of them.
      const kw = /^#\s*(if|ifdef|ifndef|elif|else|endif)\b/.exec(text.slice(i, i + 16))?.[1];
      if (kw === "if" || kw === "ifdef" || kw === "ifndef") conds.push({ depth, end: -1 });
      else if ((kw === "elif" || kw === "else") && conds.length) {
        const f = conds[conds.length - 1];
        if (f.end < 0) f.end = depth;
        depth = f.depth;
      } else if (kw === "endif" && conds.length) {
        const f = conds.pop()!;
        if (f.end >= 0) depth = f.end;
      }
      // A directive runs to the end of its line, continued by backslash-newline; comments inside are skipped.
      for (; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */ && text.charCodeAt(i + 1) === 10) i++;
        else if (d === 47 && text.charCodeAt(i + 1) === 42) {
          const end = text.indexOf("*/", i + 2);
          i = end < 0 ? n : end + 1;
        } else if (d === 10) break;
      }
      if (depth === 0) head = i + 1;
    } else if (c === 47 /* / */) {
      const d = text.charCodeAt(i + 1);
      if (d === 47) {
        const end = text.indexOf("\n", i);
        i = end < 0 ? n : end;
      } else if (d === 42) {
        const end = text.indexOf("*/", i + 2);
        i = end < 0 ? n : end + 1;
      }
    } else if (c === 34 /* " */ || c === 39 /* ' */) {
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === c || d === 10) break;
      }
    } else if (c === 123 /* { */) {
      if (depth === 0) open = i;
      depth++;
    } else if (c === 125 /* } */) {
      depth--;
      if (depth === 0 && open >= 0) {
        items.push({ head, open, close: i });
        head = i + 1;
        open = -1;
      } else if (depth < 0) {
        // Unbalanced text (a macro that opens a block in a directive of its own): start over.
        balanced = false;
        depth = 0;
        head = i + 1;
      }
    } else if (c === 59 /* ; */ && depth === 0) head = i + 1;
    SIGNIFICANT.lastIndex = i + 1;
  }
  items.balanced = balanced && depth === 0;
  if (scans.size > 256) scans.clear();
  scans.set(text, items);
  return items;
}

/** Function definitions named `name`, under preprocessor blocks and ERROR nodes too, in document order. */
export function findFunctions(root: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const visit = (n: SyntaxNode) => {
    for (const c of n.namedChildren) {
      if (c.type === "function_definition") {
        const fd = functionDeclarator(c);
        if (fd && declaredName(fd) === name) out.push(c);
      } else if (
        c.type.startsWith("preproc_") ||
        c.type === "ERROR" ||
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

export interface Definition {
  node: SyntaxNode;
  line: number;
}

/**
 * Every definition of `name` in a file's text, each parsed from its own byte range. Where the scan finds none
 * but the name is there, the whole file is parsed (and ERROR regions searched), then the range parsed again.
 */
export function definitionsIn(text: string, name: string): Definition[] {
  if (!text.includes(name)) return [];
  const call = new RegExp(`\\b${name}\\s*\\(`);
  if (!call.test(text)) return [];
  const out: Definition[] = [];
  const seen = new Set<number>();
  const add = (start: number, end: number) => {
    for (const node of findFunctions(parseRange(text, start, end).rootNode, name)) {
      if (seen.has(node.startIndex)) continue;
      seen.add(node.startIndex);
      out.push({ node, line: lineOf(node) });
    }
  };
  const items = topLevelBodies(text);
  for (const it of items) {
    const head = text.slice(it.head, it.open);
    if (call.test(head) && /\)[\s\w()]*$/.test(stripHeadComments(head))) add(it.head, it.close + 1);
  }
  if (out.length) return out;
  // Where the scan balanced every brace and each mention is inside a body, there is no definition to find (a
  // function is never defined inside another): the common case of a file that only calls the function.
  if (items.balanced && mentionsInsideBodies(text, name, items)) return out;
  // The scan can be misled (a brace in a macro of its own): tree-sitter over the whole file decides.
  for (const node of findFunctions(parseC(text).rootNode, name)) add(node.startIndex, node.endIndex);
  return out;
}

/** The definitions of a function in one file of a tree: the question "fn:NAME" of that file (see Uses). */
export function functionsIn(tree: KernelTree, file: string, name: string): Definition[] {
  use(file, Q.fn(name));
  // Most files asked (every .c and .h under arch/x86/kvm, to be sure there is one definition) never mention the
  // name: searched as bytes, they are not decoded into strings (~150 files, ~7 ms of a check). An ASCII name is
  // found in UTF-8 bytes exactly where it is in the text.
  const bytes = asking(() => tree.bytes(file));
  if (!bytes || (ASCII_NAME.test(name) && !bytes.includes(name))) return [];
  const text = asking(() => tree.read(file));
  return text ? definitionsIn(text, name) : [];
}

const ASCII_NAME = /^[\x00-\x7f]*$/;

/**
 * The smallest node at a string index of a file: from a parse of the top-level item around it where the scan is
 * sure of the items (a function of x86.c is a few hundred lines; the file is thirteen thousand), else from a
 * parse of the whole file. Ancestors reach up to that item.
 */
export function nodeAt(text: string, index: number): SyntaxNode {
  const items = topLevelBodies(text);
  if (items.balanced) {
    let lo = 0;
    let hi = items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const it = items[mid];
      if (it.close < index) lo = mid + 1;
      else if (it.head > index) hi = mid - 1;
      else return parseRange(text, it.head, it.close + 1).rootNode.descendantForIndex(index);
    }
  }
  return parseC(text).rootNode.descendantForIndex(index);
}

/**
 * String indices where a word occurs in a text: as a whole word, or (`suffix`) at the end of a longer identifier
 * too (`get_mt_mask` in `kvm_x86_get_mt_mask`).
 */
export function mentions(text: string, word: string, o: { suffix?: boolean } = {}): number[] {
  const out: number[] = [];
  const w = /\w/;
  for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + word.length))
    if ((o.suffix || !w.test(text[i - 1] ?? "")) && !w.test(text[i + word.length] ?? "")) out.push(i);
  return out;
}

function mentionsInsideBodies(text: string, name: string, items: readonly TopItem[]): boolean {
  const mention = new RegExp(`\\b${name}\\s*\\(`, "g");
  let k = 0;
  for (let m = mention.exec(text); m; m = mention.exec(text)) {
    while (k < items.length && items[k].close < m.index) k++;
    if (k === items.length || m.index <= items[k].open) return false;
  }
  return true;
}

function stripHeadComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, " ").trimEnd();
}

/** The tree has no one definition of the function: none, or several (a problem of the tree, not of the input). */
export class NotLocated extends InputError {
  constructor(
    readonly fn: string,
    message: string,
  ) {
    super(message);
  }
}

/** The one definition of `name` under SEARCH_DIR (declarations such as x86_ops.h's are not definitions). */
export function locateFunction(tree: KernelTree, name: string): Located {
  if (!/^[A-Za-z_]\w*$/.test(name)) throw new InputError(`not a C function name: ${name}`);
  use(SEARCH_DIR, Q.list);
  const { files, blocked } = asking(() =>
    tree.listing(SEARCH_DIR, (f) => /\.[ch]$/.test(f) || !/\.\w+$/.test(f)),
  );
  if (files.length === 0 && blocked.length === 0)
    throw new InputError(`${tree.root}: no ${SEARCH_DIR}/ (not an x86 kernel tree?)`);
  const found: Located[] = [];
  for (const file of files) {
    if (!/\.[ch]$/.test(file)) continue;
    for (const d of functionsIn(tree, file, name))
      found.push({ info: { name, file, line: d.line }, node: d.node, blocked });
  }
  if (found.length === 0)
    throw new NotLocated(
      name,
      `${name}() is not defined under ${SEARCH_DIR}/ of ${tree.root}${blocked.length ? ` (not read: ${blocked.map(blockedMessage).join("; ")}) [${blockedKind(blocked[0])}]` : ""}`,
    );
  if (found.length > 1)
    throw new NotLocated(
      name,
      `${name}() is defined ${found.length} times: ${found.map((f) => `${f.info.file}:${f.info.line}`).join(", ")}`,
    );
  return found[0];
}

/**
 * Where a located definition cannot be read: the first ERROR or MISSING node of its own parse, as
 * "defined at FILE:LINE but not readable: FILE:LINE:COL ...". Undefined when it parses cleanly.
 */
export function unreadable(l: Located): { line: number; message: string } | undefined {
  const err = firstSyntaxError(l.node);
  if (!err) return undefined;
  const at = `${l.info.file}:${lineOf(err)}:${err.startPosition.column + 1}`;
  const what = err.isMissing ? `missing '${err.type}'` : `'${clip(err.text)}'`;
  return {
    line: lineOf(err),
    message: `${l.info.name}() is defined at ${l.info.file}:${l.info.line} but not readable: tree-sitter cannot parse ${at} (${what})`,
  };
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > 60 ? one.slice(0, 57) + "..." : one;
}

/** A static function of the tree as a file sees it: in the file itself, then in its include closure. */
export function staticHelper(
  tree: KernelTree,
  pp: Preprocessor,
  name: string,
): { node: SyntaxNode; file: string } | undefined {
  const inFile = (file: string) => {
    const defs = functionsIn(tree, file, name).filter((d) => hasStorageClass(d.node, "static"));
    return defs.length ? { node: defs[defs.length - 1].node, file } : undefined;
  };
  // The file itself first: most helpers live next to their caller, and its closure need not be walked for them.
  const own = inFile(pp.rootFile);
  if (own) return own;
  for (const file of pp.includeClosure()) {
    const found = file === pp.rootFile ? undefined : inFile(file);
    if (found) return found;
  }
  return undefined;
}

/**
 * Does a file see `name` — a macro, or a function declared or defined in its include closure? What the generator
 * may call in the C it emits, and what a patch may use before it defines it.
 */
export function visibleName(tree: KernelTree, pp: Preprocessor, name: string): boolean {
  const call = new RegExp(`\\b${name}\\s*\\(`);
  // One walk of the includes, stopping at the first file that defines the name as a macro or a function.
  return pp.someFile((f, bytes) => {
    if (pp.definesIn(f, bytes, name)) return true;
    const text = tree.read(f);
    if (!text || !call.test(text)) return false;
    if (definitionsIn(text, name).length) return true;
    return descendants(parseC(text).rootNode, "declaration").some((d) =>
      d.childrenForFieldName("declarator").some((x) => {
        const fd = functionDeclarator(x);
        return fd !== undefined && declaredName(fd) === name;
      }),
    );
  });
}
