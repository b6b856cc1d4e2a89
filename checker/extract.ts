// Extract stage: a function of a kernel tree run on every path of its inputs — the decision table it computes
// (each path: the inputs it read, the mask it returned, the return statement that produced it), or the problems
// that prevent one.

import type { Preprocessor } from "../kernel/cpp.js";
import { Preprocessor as Cpp } from "../kernel/cpp.js";
import { DEFAULT_FUNCTION, locateFunction, NotLocated, type FunctionInfo } from "../kernel/locate.js";
import { Unverifiable, type CLoc, type Problem } from "../kernel/problems.js";
import { recordReads, recordUses, type KernelTree, type Uses } from "../kernel/tree.js";
import { InputError } from "../spec/errors.js";
import { explore, type Env, type ExploreOptions } from "../spec/evaluate.js";
import { sortInputs, type InputValue } from "../spec/vocabulary.js";
import { activeConfig } from "../spec/config.js";
import { cachedResult, type Codec, type WithDeps } from "./cache.js";
import { Interpreter } from "./interp.js";

export { DEFAULT_FUNCTION, type FunctionInfo };

export interface CLeaf {
  env: Env;
  mask: number;
  ret: CLoc;
}

export type Extraction =
  | {
      kind: "table";
      fn: FunctionInfo;
      inputs: string[];
      leaves: CLeaf[];
      /** The memslot-flag macros the function tests (on some path): the flags it honors. */
      flagsTested: string[];
    }
  | { kind: "unverifiable"; fn: FunctionInfo; inputs: string[]; problems: Problem[] };

type RunResult = { ok: true; mask: number; ret: CLoc } | { ok: false; problem: Problem };

function runner(interp: Interpreter): (env: Env) => RunResult {
  return (env) => {
    try {
      return { ok: true, ...interp.run(env) };
    } catch (e) {
      if (e instanceof Unverifiable) return { ok: false, problem: e.problem };
      throw e;
    }
  };
}

/** A function of a tree ready to run: located, with its preprocessor and interpreter. */
export interface OpenFunction {
  info: FunctionInfo;
  interp: Interpreter;
  pp: Preprocessor;
}

export function openFunction(tree: KernelTree, name: string, flagMacros: readonly string[]): OpenFunction {
  const loc = locateFunction(tree, name);
  // The C computes an EPT mask, an integer: a predicate or a procedure (vmx_ignore_guest_pat()) is not one, and
  // its true read as the mask 0x01 would only mislead.
  const ret = loc.node.childForFieldName("type")?.text ?? "";
  const pointer = loc.node.childForFieldName("declarator")?.type === "pointer_declarator";
  if (pointer || ["bool", "_Bool", "void"].includes(ret))
    throw new InputError(
      `${name}() at ${loc.info.file}:${loc.info.line} returns ${ret}${pointer ? " *" : ""}, not an EPT mask (--function names the function that computes one)`,
    );
  const pp = new Cpp(tree, loc.info.file);
  return { info: loc.info, pp, interp: new Interpreter(tree, pp, loc, { flagMacros, blocked: loc.blocked }) };
}

export function extractWith(
  interp: Interpreter,
  fn: FunctionInfo,
  opts: ExploreOptions & { maxProblems?: number } = {},
): Extraction {
  const leaves = explore(runner(interp), opts);
  const inputs = sortInputs(leaves.flatMap((l) => [...l.env.keys()]));
  const problems = new Map<string, Problem>();
  // A file the function's meaning may depend on that kspec refused to read: no verdict can be sure.
  for (const p of interp.treeProblems()) problems.set(`${p.kind}\0${p.name}`, p);
  for (const l of leaves) {
    if (!l.value.ok) {
      const p = l.value.problem;
      problems.set(`${p.kind}\0${p.name}\0${p.file}\0${p.line}`, p);
    }
  }
  if (problems.size) {
    return {
      kind: "unverifiable",
      fn,
      inputs,
      problems: [...problems.values()].slice(0, opts.maxProblems ?? 20),
    };
  }
  return {
    kind: "table",
    fn,
    inputs,
    flagsTested: [...interp.flagsTested].sort(),
    leaves: leaves.map((l) => {
      const v = l.value as Extract<RunResult, { ok: true }>;
      return { env: l.env, mask: v.mask, ret: v.ret };
    }),
  };
}

export interface ExtractOptions extends ExploreOptions {
  function?: string;
  flagMacros: readonly string[];
  /** Stop collecting problems after this many distinct ones. */
  maxProblems?: number;
}

/** A tree where the function has no one definition, as a problem of that tree (exit 2, with the reason). */
export function notLocated(e: NotLocated): { fn: FunctionInfo; problem: Problem } {
  return {
    fn: { name: e.fn, file: "", line: 0 },
    problem: { kind: "not-located", name: e.fn, file: "", line: 0, message: e.message },
  };
}

/**
 * The decision table of a tree's function, or why there is none; kept between runs (checker/cache) unless the
 * options ask for a different exploration (eager inputs, a path limit).
 */
export function extract(tree: KernelTree, opts: ExtractOptions): Extraction {
  return extractWithDeps(tree, opts).value;
}

/** Where the function usually is: the file its kept extractions are filed under in a git cache. */
const USUAL_FILE = "arch/x86/kvm/vmx/vmx.c";

/**
 * As extract(), with the paths the extraction depends on (read, probed, or listed: "dir/") and, unless the
 * options ask for a different exploration, what it asked of each (kernel/tree's Uses; kept in the cache too).
 */
export function extractWithDeps(
  tree: KernelTree,
  opts: ExtractOptions & { hint?: string },
): WithDeps<Extraction> & { uses?: Uses } {
  const name = opts.function ?? DEFAULT_FUNCTION;
  const run = (): Extraction => {
    let f: OpenFunction;
    try {
      f = openFunction(tree, name, opts.flagMacros);
    } catch (e) {
      if (!(e instanceof NotLocated)) throw e;
      const n = notLocated(e);
      return { kind: "unverifiable", fn: n.fn, inputs: [], problems: [n.problem] };
    }
    return extractWith(f.interp, f.info, opts);
  };
  const plain = !opts.eager?.length && opts.maxLeaves === undefined && opts.maxProblems === undefined;
  if (!plain) {
    const r = recordReads(run);
    return { value: r.value, deps: [...r.paths] };
  }
  // The config's inputs and spellings change how C is read.
  const what = ["extract", name, [...opts.flagMacros].sort(), activeConfig().fingerprint];
  const hint = opts.hint ?? USUAL_FILE;
  // Uses are compared across the commits of a history (checker/log); a tree on disk has no history to compare.
  if (!tree.contentAddressed) return cachedResult(tree, what, run, EXTRACTION_JSON, hint);
  const r = cachedResult(
    tree,
    what,
    () => {
      const u = recordUses(run);
      return { x: u.value, uses: u.uses };
    },
    WITH_USES_JSON,
    hint,
  );
  return { value: r.value.x, deps: r.deps, uses: r.value.uses };
}

/**
 * An extraction with its uses, as JSON. Most paths were asked the same questions (every header of the closure:
 * its includes and each macro looked up), so each distinct set of questions is written once and a path names
 * its set by index: the entry stays near the size of its dependencies, and a warm history reads it fast.
 */
const WITH_USES_JSON: Codec<{ x: Extraction; uses: Uses }> = {
  encode: (v) => {
    const index = new Map<string, number>();
    const sets: string[][] = [];
    const paths: (string | number)[] = [];
    for (const [p, q] of v.uses) {
      const set = [...q].sort();
      const key = set.join("\n");
      let i = index.get(key);
      if (i === undefined) index.set(key, (i = sets.push(set) - 1));
      paths.push(p, i);
    }
    return { x: EXTRACTION_JSON.encode(v.x), uses: { sets, paths } };
  },
  decode: (j) => {
    const v = j as { x: unknown; uses: { sets: string[][]; paths: (string | number)[] } };
    const sets = v.uses.sets.map((s) => new Set(s));
    const uses: Uses = new Map();
    for (let i = 0; i < v.uses.paths.length; i += 2)
      uses.set(v.uses.paths[i] as string, sets[v.uses.paths[i + 1] as number]);
    return { x: EXTRACTION_JSON.decode(v.x), uses };
  },
};

/** Extractions as JSON: an env (a Map) as [input, value] pairs in the order the C read them (it matters). */
const EXTRACTION_JSON: Codec<Extraction> = {
  encode: (x) =>
    x.kind === "table" ? { ...x, leaves: x.leaves.map((l) => ({ ...l, env: [...l.env] })) } : x,
  decode: (j) => {
    const x = j as Extraction;
    if (x.kind !== "table") return x;
    const leaves = x.leaves as unknown as (Omit<CLeaf, "env"> & { env: [string, InputValue][] })[];
    return { ...x, leaves: leaves.map((l) => ({ ...l, env: new Map(l.env) })) };
  },
};
