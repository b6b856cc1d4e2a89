// Preprocess stage: the headers a kernel source file includes (transitively), the #defines they make, and
// one-level expansion of a macro use, so that constants come from the tree's own headers.
//
// This is a model of the preprocessor, not a reimplementation: directives are read line by line, conditionals
// are evaluated only where the answer is certain in a kernel build (__ASSEMBLY__ undefined, __KERNEL__ defined,
// #if 0/1); everything else counts as possibly taken. A macro with two live definitions that disagree is
// ambiguous, and the checker refuses to guess (the caller reports it as unverifiable).

import { posix } from "node:path";
import {
  asking,
  PerText,
  Q,
  recordingUses,
  useAll,
  type Blocked,
  type Entry,
  type KernelTree,
} from "./tree.js";

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

/** The `#include` lines of a file as the include closure needs them, found fast: no comment stripping. */
type QuickIncludes = { path: string; quoted: boolean; index: number }[];

/** Kept with the file's bytes (the same Buffer in every state of a tree that has not changed the file). */
const quickScans = new WeakMap<Buffer, QuickIncludes>();
const fullScans = new PerText<Scan>();
/**
 * Per header's bytes, the definitions of each name looked up so far, with the path they were found at (the same
 * bytes at another path, a renamed header or a copy, define at that path: looked up again there). None at all is
 * null, whatever the path.
 */
const definesByName = new WeakMap<Buffer, Map<string, { file: string; defs: readonly MacroDef[] } | null>>();

const SPACE = (c: number) => c === 32 || c === 9;
const INCLUDE = Buffer.from("include");
const DEFINE = Buffer.from("define");

/**
 * Is the word at `i` the first thing on its line after a `#` (spaces and tabs allowed around it)? Looking back
 * from each occurrence of a keyword is several times faster than a regex over every line of 8 MB of headers.
 */
function directiveAt(b: Buffer, i: number): boolean {
  let k = i - 1;
  while (k >= 0 && SPACE(b[k])) k--;
  if (k < 0 || b[k] !== 35 /* # */) return false;
  k--;
  while (k >= 0 && SPACE(b[k])) k--;
  return k < 0 || b[k] === 10;
}

const NEXT = Buffer.from("_next");

/**
 * Every `#include` (and `#include_next`) of a file, whatever conditional surrounds it. Following an include the
 * compiler would skip can only add definitions (an ambiguity kspec reports); missing one could hide the definition
 * that applies, so this errs on the side of following.
 */
export function quickIncludes(b: Buffer): QuickIncludes {
  let out = quickScans.get(b);
  if (out) return out;
  out = [];
  // include or include_next, spaces or tabs, then <path> or "path" on the same line (read from the bytes: a line
  // decoded and matched for each of a closure's ~3000 includes cost strings the collector then had to sweep).
  for (let i = b.indexOf(INCLUDE); i >= 0; i = b.indexOf(INCLUDE, i + 7)) {
    if (!directiveAt(b, i)) continue;
    let k = i + 7;
    if (b[k] === 95 /* _ */ && b.subarray(k, k + 5).equals(NEXT)) k += 5;
    while (SPACE(b[k])) k++;
    const close = b[k] === 60 /* < */ ? 62 /* > */ : b[k] === 34 /* " */ ? 34 : -1;
    if (close < 0) continue;
    let e = k + 1;
    while (e < b.length && b[e] !== close && b[e] !== 10) e++;
    if (e < b.length && b[e] === close && e > k + 1)
      out.push({ path: b.toString("utf8", k + 1, e), quoted: close === 34, index: i });
  }
  quickScans.set(b, out);
  return out;
}

/** The #include lines of a file, with where they are (a blocked include is reported at its line). */
function includesFingerprint(b: Buffer): string {
  return quickIncludes(b)
    .map((i) => `${i.index}${i.quoted ? '"' : "<"}${i.path}`)
    .join("\n");
}

const WORD = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** The bytes of the last name searched for: a lookup asks every file of the closure for the same name in turn. */
let needle = { name: "", bytes: Buffer.alloc(0) };

/** Might the file `#define name`? The careful scan decides; this only has to be fast and never say no wrongly. */
export function mayDefine(b: Buffer, name: string): boolean {
  if (needle.name !== name) needle = { name, bytes: Buffer.from(name) };
  const find = needle.bytes;
  for (let i = b.indexOf(find); i >= 0; i = b.indexOf(find, i + find.length)) {
    if (WORD(b[i + find.length])) continue;
    let k = i - 1;
    while (k >= 0 && SPACE(b[k])) k--;
    if (k === i - 1 || k < 5 || !b.subarray(k - 5, k + 1).equals(DEFINE)) continue;
    if (directiveAt(b, k - 5)) return true;
  }
  return false;
}

/** The 1-based line of a byte index. */
function lineAt(b: Buffer, index: number): number {
  let n = 1;
  for (let i = b.indexOf(10); i >= 0 && i < index; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** The careful scan of a file's directives (cached by the file's text and name). */
function scanOf(tree: KernelTree, file: string): Scan {
  const text = tree.read(file) ?? "";
  return fullScans.get(file, text, () => scanDirectives(text, file));
}

/** The #defines of `name` in one file of a tree (its `bytes`): the careful scan only where the fast one may find one. */
export function macroDefinitionsIn(
  tree: KernelTree,
  file: string,
  bytes: Buffer,
  name: string,
): readonly MacroDef[] {
  return mayDefine(bytes, name) ? scanOf(tree, file).defines.filter((d) => d.name === name) : NO_DEFS;
}

/** What nearly every header defines of a name looked up: kept once, not as a new array per header and name. */
const NO_DEFS: readonly MacroDef[] = Object.freeze([]);

export class Preprocessor {
  private memo?: Closure;
  /** The closure's files with their bytes in this state, read once for every lookup. */
  private withBytes?: [string, Buffer][];
  /** Definitions found so far, by macro name. */
  private readonly defs = new Map<string, MacroDef[]>();

  constructor(
    readonly tree: KernelTree,
    readonly rootFile: string,
  ) {}

  /** Includes that resolved to a path kspec refuses to read (a symlink out of the tree, an oversized file). */
  get blocked(): readonly (Blocked & { from: string; line: number })[] {
    return this.closure().blocked;
  }

  /**
   * Where an include resolves, with the paths probed on the way (what the answer depends on). The disk's answer
   * is kept for every state of the tree; a state whose overlay adds, replaces or deletes a candidate is asked
   * again.
   */
  private resolveInclude(dir: string, inc: { path: string; quoted: boolean }): Resolution {
    // By directory, then path: no key string made for each of the closure's ~3000 #include lines.
    const onDisk = this.tree.onDisk<Map<string, Map<string, Resolution>>>("includes", () => new Map());
    let inDir = onDisk.get(dir);
    if (!inDir) onDisk.set(dir, (inDir = new Map()));
    let r = inDir.get(inc.path);
    if (r === undefined) {
      // Most include paths have no . or .. segment, no // and no trailing /, and are not beside a top-level file
      // (dirname "."): normalizing them would change nothing. Any other is normalized, or the paths it probes
      // would not be the tree's own names for them (what a change to the tree is matched against).
      const plain = !/(^|\/)\.\.?(\/|$)|\/\/|\/$/.test(inc.path) && !inc.path.startsWith("/") && dir !== ".";
      const candidates = (inc.quoted ? [dir, ...SEARCH_DIRS] : SEARCH_DIRS)
        .map((d) => (plain ? `${d}/${inc.path}` : posix.normalize(`${d}/${inc.path}`)))
        .filter((p) => !p.startsWith("..") && !p.startsWith("/"));
      // asm/ headers the x86 build generates as wrappers of asm-generic (Kbuild generic-y) come last.
      if (inc.path.startsWith("asm/")) {
        const generic = `include/asm-generic/${inc.path.slice(4)}`;
        candidates.push(plain ? generic : posix.normalize(generic));
      }
      r = firstCandidate(candidates, (p) => this.tree.diskEntry(p));
      inDir.set(inc.path, r);
    }
    if (this.tree.hasOverlay && r.candidates.some((p) => this.tree.overlays(p)))
      return firstCandidate(r.candidates, (p) => this.tree.entry(p));
    return r;
  }

  /**
   * Every file the root file includes, transitively, in discovery order (forced includes first). Includes are
   * followed whatever conditional surrounds them: a larger closure can only add definitions, and a definition
   * that disagrees with another makes the macro ambiguous, never silently wrong.
   */
  includeClosure(): string[] {
    return this.closure().files;
  }

  /** The closure and what was refused on the way; shared by the states of a tree whose closure files agree. */
  private closure(): Closure {
    // The closure depends on each file's #include lines alone (and on which probed paths exist): a patch that
    // changes code, not includes, keeps it.
    this.memo ??= asking(() =>
      this.tree.shared(`closure\0${this.rootFile}`, () => this.computeClosure(), includesFingerprint),
    );
    useAll(this.memo, this.memo.deps, Q.closure);
    return this.memo;
  }

  private computeClosure(): { value: Closure; deps: Set<string> } {
    const deps = new Set<string>();
    const order: string[] = [];
    const blocked: Closure["blocked"] = [];
    for (const { file } of this.walk(deps, blocked)) order.push(file);
    return { value: { files: order, blocked, deps: [...deps] }, deps };
  }

  /**
   * The files of the closure in discovery order (forced includes first), read as they are reached, so that a
   * caller may stop early. Every path probed goes into `deps`; includes kspec refuses to follow into `blocked`.
   */
  private *walk(
    deps = new Set<string>(),
    blocked: Closure["blocked"] = [],
  ): Generator<{ file: string; bytes: Buffer }> {
    const seen = new Set<string>();
    // Each file with where it was included from: a file that cannot be read is reported there.
    const queue: { file: string; from: string; line: () => number }[] = [
      ...FORCED.map((f) => ({ file: f, from: f, line: () => 0 })),
      { file: this.rootFile, from: this.rootFile, line: () => 0 },
    ];
    // Most headers are included from many files: their probes are recorded once.
    const resolved = new Set<Resolution>();
    // Where a request per file is dear (git), each file queued is asked for with the others queued with it.
    let asked = this.tree.readsAhead ? 0 : Infinity;
    for (let q = 0; q < queue.length; q++) {
      if (q >= asked) {
        this.tree.readAhead(queue.slice(q).map((x) => x.file));
        asked = queue.length;
      }
      const { file: f, from, line } = queue[q];
      if (seen.has(f)) continue;
      seen.add(f);
      deps.add(f);
      const bytes = this.tree.bytes(f);
      if (bytes === undefined) {
        // Resolved, then refused when read (too large); or a forced include the tree does not have.
        const e = this.tree.entry(f);
        if (e.kind === "outside" || e.kind === "too-large")
          blocked.push({ path: f, entry: e, from, line: line() });
        continue;
      }
      yield { file: f, bytes };
      // A quoted include is looked for beside the file first (`dir`: "" for an include in <>).
      const here = posix.dirname(f);
      for (const inc of quickIncludes(bytes)) {
        const at = () => lineAt(bytes, inc.index);
        const r = this.resolveInclude(inc.quoted ? here : "", inc);
        if (!resolved.has(r)) {
          resolved.add(r);
          for (const p of r.probed) deps.add(p);
        }
        // The compiler would read a blocked file; kspec will not, so what it defines is unknown.
        if (r.blocked) blocked.push({ ...r.blocked, from: f, line: at() });
        else if (r.file && !seen.has(r.file)) queue.push({ file: r.file, from: f, line: at });
      }
    }
  }

  /**
   * Does a file of the closure pass `test`? The includes are followed only as far as the first that does (all
   * of them when none does): whether a helper or a constant exists at all needs no more, where the value of a
   * macro (lookup) needs every definition.
   */
  someFile(test: (file: string, bytes: Buffer) => boolean): boolean {
    if (this.memo) return this.closureBytes().some(([f, b]) => test(f, b));
    for (const { file, bytes } of this.walk()) if (test(file, bytes)) return true;
    return false;
  }

  /** Is `name` #defined in the closure (as lookup finds definitions)? */
  defines(name: string): boolean {
    // Where uses are recorded, the answer is lookup's (which records it): the early stop of the walk depends on
    // the order of files, which only the whole closure's record states.
    if (this.defs.has(name) || recordingUses()) return this.lookup(name).length > 0;
    return asking(() => this.someFile((f, b) => this.definesIn(f, b, name)));
  }

  /** Does one file of the tree #define `name`? */
  definesIn(file: string, bytes: Buffer, name: string): boolean {
    return macroDefinitionsIn(this.tree, file, bytes, name).length > 0;
  }

  /** The careful scan of a file's directives (cached by the file's text and name). */
  scan(file: string): Scan {
    return scanOf(this.tree, file);
  }

  /**
   * The closure's files and their bytes. Read through the tree once, when the closure is first needed (that read
   * records them, as the closure's computation does); each lookup then goes over the list.
   */
  private closureBytes(): [string, Buffer][] {
    return (this.withBytes ??= this.includeClosure().map((f) => [f, this.tree.bytes(f)!]));
  }

  /** The names of the macros the closure defines that start with `prefix` (for "did you mean"; it scans them all). */
  definedNames(prefix: string): string[] {
    const out = new Set<string>();
    for (const f of this.includeClosure())
      for (const d of this.scan(f).defines) if (d.name.startsWith(prefix)) out.add(d.name);
    return [...out].sort();
  }

  /**
   * The live definitions of a macro, distinct by body; more than one means the tree's value is ambiguous. Looked
   * up when the interpreter needs the name: searching the closure's text for one name costs about a millisecond,
   * where collecting every #define of a thousand headers up front cost tens; and what one header defines is kept
   * for every state of the tree that has the same text there.
   */
  lookup(name: string): MacroDef[] {
    let found = this.defs.get(name);
    if (!found) this.defs.set(name, (found = asking(() => this.definitionsOf(name))));
    useAll(found, this.includeClosure(), Q.defines(name));
    return found;
  }

  private definitionsOf(name: string): MacroDef[] {
    const byBody = new Map<string, MacroDef>();
    // An index loop: a thousand headers times a few names, and no iterator objects for the collector.
    const all = this.closureBytes();
    for (let i = 0; i < all.length; i++) {
      const f = all[i][0];
      const bytes = all[i][1];
      let names = definesByName.get(bytes);
      if (!names) definesByName.set(bytes, (names = new Map()));
      // Keyed by name alone, the path compared: a key made of both cost a string per header and name (~2 ms).
      let kept = names.get(name);
      if (kept === undefined || (kept !== null && kept.file !== f)) {
        const defs = macroDefinitionsIn(this.tree, f, bytes, name);
        names.set(name, (kept = defs.length ? { file: f, defs } : null));
      }
      if (kept === null) continue;
      for (const d of kept.defs) {
        const key = `${d.params ? `(${d.params.join(",")})` : ""}${d.body.replace(/\s+/g, " ")}`;
        if (!byBody.has(key)) byBody.set(key, d);
      }
    }
    return [...byBody.values()];
  }
}

interface Closure {
  files: string[];
  blocked: (Blocked & { from: string; line: number })[];
  /** Every path read or probed for it. */
  deps: string[];
}

/** Where an include resolved: a file, a path kspec refuses to read, or nothing; and what was probed. */
interface Resolution {
  candidates: string[];
  probed: string[];
  file?: string;
  blocked?: Blocked;
}

function firstCandidate(candidates: string[], entry: (p: string) => Entry): Resolution {
  const probed: string[] = [];
  for (const p of candidates) {
    probed.push(p);
    const e = entry(p);
    if (e.kind === "file") return { candidates, probed, file: p };
    if (e.kind === "outside" || e.kind === "too-large")
      return { candidates, probed, blocked: { path: p, entry: e } };
  }
  return { candidates, probed };
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
