// Extract stage: find a function in a kernel tree and compute its decision table — every path, the inputs it
// read, the mask it returned and the return statement that produced it — or the problems that prevent it.

import { InputError } from "../spec/errors.js";
import { explore, type Env, type ExploreOptions } from "../spec/evaluate.js";
import { sortInputs } from "../spec/vocabulary.js";
import { Preprocessor } from "./cpp.js";
import { Interpreter, Unverifiable, type CLoc, type Problem } from "./interp.js";
import { findFunctions, lineOf, parseC, type SyntaxNode } from "./parse.js";
import { blockedKind, blockedMessage, type Blocked, type KernelTree } from "./tree.js";

export const DEFAULT_FUNCTION = "vmx_get_mt_mask";
/** Where vmx_get_mt_mask() has lived: vmx.c in every version so far; searched in this order, then all of kvm/. */
const SEARCH_DIR = "arch/x86/kvm";

export interface FunctionInfo {
  name: string;
  file: string;
  line: number;
}

export interface CLeaf {
  env: Env;
  mask: number;
  ret: CLoc;
}

export type Extraction =
  | { kind: "table"; fn: FunctionInfo; inputs: string[]; leaves: CLeaf[] }
  | { kind: "unverifiable"; fn: FunctionInfo; inputs: string[]; problems: Problem[] };

export interface Located {
  info: FunctionInfo;
  node: SyntaxNode;
  /** Files under the search directory kspec refused to read: one of them could define the function too. */
  blocked: Blocked[];
}

/** The one definition of `name` under arch/x86/kvm (declarations such as x86_ops.h's are not definitions). */
export function locateFunction(tree: KernelTree, name: string): Located {
  if (!/^[A-Za-z_]\w*$/.test(name)) throw new InputError(`not a C function name: ${name}`);
  const re = new RegExp(`\\b${name}\\s*\\(`);
  const { files, blocked } = tree.listing(
    SEARCH_DIR,
    (f) => f.endsWith(".c") || f.endsWith(".h") || !/\.\w+$/.test(f),
  );
  if (files.length === 0 && blocked.length === 0)
    throw new InputError(`${tree.root}: no ${SEARCH_DIR}/ (not an x86 kernel tree?)`);
  const found: Located[] = [];
  for (const file of files) {
    if (!file.endsWith(".c") && !file.endsWith(".h")) continue;
    const text = tree.read(file);
    if (!text || !re.test(text)) continue;
    for (const node of findFunctions(parseC(text, file).rootNode, name)) {
      found.push({ info: { name, file, line: lineOf(node) }, node, blocked });
    }
  }
  if (found.length === 0)
    throw new InputError(
      `${name}() is not defined under ${SEARCH_DIR}/ of ${tree.root}${blocked.length ? ` (not read: ${blocked.map(blockedMessage).join("; ")}) [${blockedKind(blocked[0])}]` : ""}`,
    );
  if (found.length > 1) {
    throw new InputError(
      `${name}() is defined ${found.length} times: ${found.map((f) => `${f.info.file}:${f.info.line}`).join(", ")}`,
    );
  }
  return found[0];
}

export interface ExtractOptions extends ExploreOptions {
  function?: string;
  flagMacros: readonly string[];
  /** Stop collecting problems after this many distinct ones. */
  maxProblems?: number;
}

export function extract(tree: KernelTree, opts: ExtractOptions): Extraction {
  const loc = locateFunction(tree, opts.function ?? DEFAULT_FUNCTION);
  const interp = new Interpreter(tree, new Preprocessor(tree, loc.info.file), loc.node, loc.info.file, {
    flagMacros: opts.flagMacros,
    blocked: loc.blocked,
  });
  return extractWith(interp, loc.info, opts);
}

type RunResult = { ok: true; mask: number; ret: CLoc } | { ok: false; problem: Problem };

export function runner(interp: Interpreter): (env: Env) => RunResult {
  return (env) => {
    try {
      return { ok: true, ...interp.run(env) };
    } catch (e) {
      if (e instanceof Unverifiable) return { ok: false, problem: e.problem };
      throw e;
    }
  };
}

/**
 * The runner as one side of a comparison: the mask and the return that produced it. Callers extract first, so
 * a problem here would mean the interpreter is not deterministic.
 */
export function maskSide(run: (env: Env) => RunResult): (env: Env) => { mask: number; origin: CLoc } {
  return (env) => {
    const r = run(env);
    if (!r.ok) throw new Error(`internal: ${r.problem.message}`);
    return { mask: r.mask, origin: r.ret };
  };
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
    leaves: leaves.map((l) => {
      const v = l.value as Extract<RunResult, { ok: true }>;
      return { env: l.env, mask: v.mask, ret: v.ret };
    }),
  };
}

/** A function of a tree ready to run: located, parsed, with its preprocessor and interpreter. */
export function openFunction(
  tree: KernelTree,
  name: string,
  flagMacros: readonly string[],
): { info: FunctionInfo; interp: Interpreter } {
  const loc = locateFunction(tree, name);
  return {
    info: loc.info,
    interp: new Interpreter(tree, new Preprocessor(tree, loc.info.file), loc.node, loc.info.file, {
      flagMacros,
      blocked: loc.blocked,
    }),
  };
}
