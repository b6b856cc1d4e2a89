// Preprocess stage: the headers a kernel source file includes (transitively), the #defines they make, and
// one-level expansion of a macro use, so that constants come from the tree's own headers.
//
// This is a model of the preprocessor, not a reimplementation: directives are read line by line, conditionals
// are evaluated only where the answer is certain in a kernel build (__ASSEMBLY__ undefined, __KERNEL__ defined,
// #if 0/1); everything else counts as possibly taken. A macro with two live definitions that disagree is
// ambiguous, and the checker refuses to guess (the caller reports it as unverifiable).

import { posix } from "node:path";
import type { Blocked, KernelTree } from "./tree.js";

export interface MacroDef {
  name: string;
  /** Parameter names for a function-like macro; undefined for an object-like one. */
  params?: string[];
  variadic?: boolean;
  body: string;
  file: string;
  line: number;
  /** The directive's text range in its file (through its last continued line, without the newline). */
  start: number;
  end: number;
  /** The conditions of the #if/#ifdef/#ifndef blocks around it, outermost first ("ifndef __LINUX_KVM_H"). */
  conds: string[];
}

/** Directories searched for <...> includes in an x86 kernel build (and by KVM's own -I arch/x86/kvm). */
const SYSTEM_DIRS = [
  "arch/x86/include",
  "arch/x86/include/generated",
  "include",
  "arch/x86/include/uapi",
  "arch/x86/include/generated/uapi",
  "include/uapi",
];
const KVM_DIRS = ["arch/x86/kvm"];
const SEARCH_DIRS = [...SYSTEM_DIRS, ...KVM_DIRS];
/** Headers every kernel compilation unit sees through -include. */
const FORCED = ["include/linux/kconfig.h", "include/linux/compiler_types.h"];

const CERTAIN: Record<string, boolean> = { __ASSEMBLY__: false, __KERNEL__: true, __GENKSYMS__: false };

/** Block and line comments replaced by spaces, newlines kept, so line numbers survive. */
export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) =>
    m.startsWith("/") ? m.replace(/[^\n]/g, " ") : m,
  );
}

type Tri = boolean | undefined;

function evalCondition(kind: string, arg: string): Tri {
  const a = arg.trim();
  if (kind === "ifdef") return CERTAIN[a];
  if (kind === "ifndef") return CERTAIN[a] === undefined ? undefined : !CERTAIN[a];
  // #if / #elif: only the shapes whose value is certain.
  if (/^0+$/.test(a)) return false;
  if (/^1$/.test(a)) return true;
  const m = /^(!?)\s*defined\s*\(?\s*(\w+)\s*\)?$/.exec(a);
  if (m && CERTAIN[m[2]] !== undefined) return m[1] ? !CERTAIN[m[2]] : CERTAIN[m[2]];
  return undefined;
}

interface Scan {
  includes: { path: string; quoted: boolean }[];
  defines: MacroDef[];
}

/** The #include and #define directives of a file that are not in a certainly-excluded conditional. */
export function scanDirectives(text: string, file: string): Scan {
  const lines = stripComments(text).split("\n");
  const includes: Scan["includes"] = [];
  const defines: MacroDef[] = [];
  // Each frame: is this branch live (true/undefined) or dead (false); has an earlier branch certainly been taken.
  const stack: { live: Tri; taken: Tri; cond: string }[] = [];
  const dead = () => stack.some((f) => f.live === false);
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    const start = i;
    const startOffset = offset;
    offset += lines[i].length + 1;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      line = line.slice(0, -1) + " " + lines[++i];
      offset += lines[i].length + 1;
    }
    const m = /^\s*#\s*(\w+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, kw, rest] = m;
    if (kw === "if" || kw === "ifdef" || kw === "ifndef") {
      const live = evalCondition(kw, rest);
      stack.push({ live, taken: live, cond: `${kw} ${rest.trim()}` });
    } else if (kw === "elif" || kw === "elifdef" || kw === "elifndef") {
      const f = stack[stack.length - 1];
      if (!f) continue;
      const cond = evalCondition(kw === "elif" ? "if" : kw.slice(2), rest);
      f.live = f.taken === true ? false : cond;
      if (cond === true && f.taken !== true) f.taken = true;
      f.cond = `${kw} ${rest.trim()}`;
    } else if (kw === "else") {
      const f = stack[stack.length - 1];
      if (!f) continue;
      f.live = f.taken === true ? false : f.taken === false ? true : undefined;
      f.cond = `else (${f.cond})`;
    } else if (kw === "endif") {
      stack.pop();
    } else if (dead()) {
      continue;
    } else if (kw === "include") {
      const inc = /^(?:<([^>]+)>|"([^"]+)")/.exec(rest.trim());
      if (inc) includes.push({ path: inc[1] ?? inc[2], quoted: inc[2] !== undefined });
    } else if (kw === "define") {
      const d = /^([A-Za-z_]\w*)(\(([^)]*)\))?\s*(.*)$/.exec(rest);
      if (!d) continue;
      const def: MacroDef = {
        name: d[1],
        body: d[4].trim(),
        file,
        line: start + 1,
        start: startOffset,
        end: offset - 1,
        conds: stack.map((f) => f.cond),
      };
      if (d[2] !== undefined) {
        const ps = d[3]
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        if (ps.length && ps[ps.length - 1].endsWith("...")) {
          def.variadic = true;
          const last = ps.pop()!.slice(0, -3).trim();
          ps.push(last === "" ? "__VA_ARGS__" : last);
        }
        def.params = ps;
      }
      defines.push(def);
    }
  }
  return { includes, defines };
}

/** The directives of a file as the include closure needs them, found fast: no comment stripping, no bodies. */
interface QuickScan {
  includes: { path: string; quoted: boolean; index: number }[];
  /** Names of macros the file may #define (the careful scan decides). */
  defines: Set<string>;
}

const quickScans = new Map<string, QuickScan>();
const fullScans = new Map<string, Scan>();

function cached<T>(m: Map<string, T>, key: string, make: () => T): T {
  let v = m.get(key);
  if (v === undefined) {
    v = make();
    // Bounded: a closure is about a thousand headers; fuzz and mutation runs make many versions of one file.
    if (m.size >= 8192) m.delete(m.keys().next().value!);
    m.set(key, v);
  }
  return v;
}

const DIRECTIVE = /[ \t]*#[ \t]*(include|define)[ \t]*(?:<([^>\n]+)>|"([^"\n]+)"|([A-Za-z_]\w*))/y;

/** Every line that starts with `#include` or `#define`: found by looking at each '#' only. */
export function quickScan(text: string): QuickScan {
  return cached(quickScans, text, () => {
    const out: QuickScan = { includes: [], defines: new Set() };
    for (let i = text.indexOf("#"); i >= 0; i = text.indexOf("#", i + 1)) {
      const bol = text.lastIndexOf("\n", i - 1) + 1;
      DIRECTIVE.lastIndex = bol;
      const m = DIRECTIVE.exec(text);
      if (m) {
        if (m[1] === "define") {
          if (m[4]) out.defines.add(m[4]);
        } else if (m[2] ?? m[3])
          out.includes.push({ path: (m[2] ?? m[3])!, quoted: m[3] !== undefined, index: i });
      }
      const eol = text.indexOf("\n", i);
      if (eol < 0) break;
      i = eol;
    }
    return out;
  });
}

export class Preprocessor {
  private files?: string[];
  /** Macro name -> files with a #define of it (found by a fast pass; confirmed by the careful scan). */
  /** Per closure file, the names it may #define (from the fast scan, shared by every preprocessor). */
  private defineSets: { file: string; names: Set<string> }[] = [];

  constructor(
    readonly tree: KernelTree,
    readonly rootFile: string,
  ) {}

  /** Includes that resolved to a path kspec refuses to read (a symlink out of the tree, an oversized file). */
  readonly blocked: (Blocked & { from: string; line: number })[] = [];


  private resolveInclude(
    from: string,
    inc: { path: string; quoted: boolean },
    at: () => number,
  ): string | undefined {
    const dir = inc.quoted ? posix.dirname(from) : "";
    const key = `${dir}\0${inc.path}`;
    // Resolutions of `#include <x>` (and of quoted includes per directory), kept with the tree state: most
    // headers are included often, by every preprocessor of the same tree.
    const resolved = this.tree.memo<Map<string, string | Blocked | null>>("includes", () => new Map());
    let r = resolved.get(key);
    if (r === undefined) {
      r = null;
      // Most include paths have no . or .. segment: normalizing them would change nothing.
      const plain = !/(^|\/)\.\.?(\/|$)/.test(inc.path) && !inc.path.startsWith("/");
      const candidates = (inc.quoted ? [dir, ...SEARCH_DIRS] : SEARCH_DIRS).map((d) =>
        plain ? `${d}/${inc.path}` : posix.normalize(`${d}/${inc.path}`),
      );
      // asm/ headers the x86 build generates as wrappers of asm-generic (Kbuild generic-y) come last.
      if (inc.path.startsWith("asm/")) candidates.push(`include/asm-generic/${inc.path.slice(4)}`);
      for (const p of candidates) {
        if (p.startsWith("..") || p.startsWith("/")) continue;
        const e = this.tree.entry(p);
        if (e.kind === "file") r = p;
        else if (e.kind === "outside" || e.kind === "too-large") r = { path: p, entry: e };
        else continue;
        break;
      }
      resolved.set(key, r);
    }
    if (r === null) return undefined;
    if (typeof r === "string") return r;
    // The compiler would read this file; kspec will not, so what it defines is unknown.
    this.blocked.push({ ...r, from, line: at() });
    return undefined;
  }

  /**
   * Every file the root file includes, transitively, in discovery order (forced includes first). Includes are
   * followed whatever conditional surrounds them: a larger closure can only add definitions, and a definition
   * that disagrees with another makes the macro ambiguous, never silently wrong.
   */
  includeClosure(): string[] {
    if (this.files) return this.files;
    const seen = new Set<string>();
    const order: string[] = [];
    // Each file with where it was included from: a file that cannot be read is reported there.
    const queue: { file: string; from: string; line: () => number }[] = [
      ...FORCED.map((f) => ({ file: f, from: f, line: () => 0 })),
      { file: this.rootFile, from: this.rootFile, line: () => 0 },
    ];
    while (queue.length) {
      const { file: f, from, line } = queue.shift()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const text = this.tree.read(f);
      if (text === undefined) {
        // Resolved, then refused when read (too large); or a forced include the tree does not have.
        const e = this.tree.entry(f);
        if (e.kind === "outside" || e.kind === "too-large") this.blocked.push({ path: f, entry: e, from, line: line() });
        continue;
      }
      order.push(f);
      const q = quickScan(text);
      if (q.defines.size) this.defineSets.push({ file: f, names: q.defines });
      for (const inc of q.includes) {
        const at = () => text.slice(0, inc.index).split("\n").length;
        const r = this.resolveInclude(f, inc, at);
        if (r && !seen.has(r)) queue.push({ file: r, from: f, line: at });
      }
    }
    this.files = order;
    return order;
  }

  /** The careful scan of a file's directives (cached by the file's text and name). */
  scan(file: string): Scan {
    const text = this.tree.read(file) ?? "";
    return cached(fullScans, `${file}\0${text}`, () => scanDirectives(text, file));
  }

  /** The live definitions of a macro, distinct by body; more than one means the tree's value is ambiguous. */
  lookup(name: string): MacroDef[] {
    this.includeClosure();
    const byBody = new Map<string, MacroDef>();
    for (const { file: f, names } of this.defineSets) {
      if (!names.has(name)) continue;
      for (const d of this.scan(f).defines) {
        if (d.name !== name) continue;
        const key = `${d.params ? `(${d.params.join(",")})` : ""}${d.body.replace(/\s+/g, " ")}`;
        if (!byBody.has(key)) byBody.set(key, d);
      }
    }
    return [...byBody.values()];
  }
}

// ---- one-level macro expansion --------------------------------------------------------------------------

const TOKEN =
  /\s+|([A-Za-z_]\w*)|(\.?\d(?:[eEpP][+-]|[\w.])*)|("(?:\\.|[^"\\])*")|('(?:\\.|[^'\\])*')|(\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\*=|\/=|%=|\+=|-=|&=|\^=|\|=|##|[-+*/%<>=!&|^~?:;,.()[\]{}#\\@$`])/y;

export function tokenize(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`cannot tokenize at ${JSON.stringify(text.slice(at, at + 10))}`);
    if (m[0].trim() !== "") out.push(m[0]);
  }
  return out;
}

/**
 * The replacement text of one macro use: parameters substituted (arguments as written), `#` and `##` applied.
 * Nested macro uses in the result are left for the caller, who expands them one at a time as it evaluates.
 */
const expansions = new WeakMap<MacroDef, Map<string, string>>();

export function expandOnce(def: MacroDef, args: readonly string[] | undefined): string {
  // The same macro with the same arguments expands to the same text: macros nested in macros expand often.
  let byArgs = expansions.get(def);
  if (!byArgs) expansions.set(def, (byArgs = new Map()));
  const key = args === undefined ? "\0" : args.join("\0,");
  let text = byArgs.get(key);
  if (text === undefined) {
    text = expandUncached(def, args);
    if (byArgs.size < 1024) byArgs.set(key, text);
  }
  return text;
}

function expandUncached(def: MacroDef, args: readonly string[] | undefined): string {
  const body = tokenize(def.body);
  if (!def.params) return body.join(" ");
  const params = def.params;
  if (!args) throw new Error(`${def.name} needs arguments`);
  const nFixed = def.variadic ? params.length - 1 : params.length;
  if (
    def.variadic
      ? args.length < nFixed
      : args.length !== nFixed && !(nFixed === 0 && args.length === 1 && args[0].trim() === "")
  ) {
    throw new Error(`${def.name} takes ${nFixed} argument(s), got ${args.length}`);
  }
  const value = (p: string): string[] | undefined => {
    const i = params.indexOf(p);
    if (i < 0) return undefined;
    if (def.variadic && i === params.length - 1) return tokenize(args.slice(nFixed).join(", "));
    return tokenize(args[i] ?? "");
  };
  const out: string[][] = [];
  for (let i = 0; i < body.length; i++) {
    const t = body[i];
    if (t === "#" && i + 1 < body.length && value(body[i + 1])) {
      out.push([JSON.stringify((value(body[++i]) ?? []).join(" "))]);
      continue;
    }
    out.push(value(t) ?? [t]);
  }
  // Token pasting: `a ## b` glues the last token of a to the first of b.
  const flat: string[] = [];
  for (let i = 0; i < out.length; i++) {
    if (out[i].length === 1 && out[i][0] === "##" && flat.length && i + 1 < out.length) {
      const next = out[++i];
      flat.push(flat.pop()! + (next[0] ?? ""), ...next.slice(1));
    } else {
      flat.push(...out[i]);
    }
  }
  return flat.join(" ");
}
