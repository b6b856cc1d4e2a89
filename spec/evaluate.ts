// Evaluate stage: the reference evaluator — policy + inputs -> { mask, type, ipat, rule }, and the lazy enumeration
// of input space that both the evaluator and the C interpreter use.
//
// A computation asks for inputs as it needs them (`need`); an input not yet assigned stops it, and the
// enumeration tries each value of that input. So the work grows with the number of distinct paths through the
// computation, not with the product of all domains: a policy over 24 booleans with 25 rules has ~25 leaves.

import { encodeMask, typeName } from "./memtypes.js";
import type { Cond, Outcome, Policy, Rule } from "./ir.js";
import { domainOf, sortInputs, type InputValue } from "./vocabulary.js";

export type Env = ReadonlyMap<string, InputValue>;

/** Thrown (not an Error: no stack to build) when a computation reads an input the assignment lacks. */
export class Need {
  constructor(readonly input: string) {}
}

export function need(env: Env, input: string): InputValue {
  const v = env.get(input);
  if (v === undefined) throw new Need(input);
  return v;
}

export interface Leaf<T> {
  /** The inputs this path read, with their values; inputs not listed do not matter on this path. */
  env: Env;
  value: T;
}

export interface ExploreOptions {
  /** Inputs assigned before the computation runs (the exhaustive mode of the benchmarks). */
  eager?: readonly string[];
  /** Stop after this many leaves; `explore` then throws TooManyPaths. */
  maxLeaves?: number;
}

export class TooManyPaths extends Error {}

/** Every path of `run` over the input space, in a stable order (inputs' domain order). */
export function explore<T>(run: (env: Env) => T, opts: ExploreOptions = {}): Leaf<T>[] {
  const leaves: Leaf<T>[] = [];
  const max = opts.maxLeaves ?? 1 << 22;
  const go = (env: Map<string, InputValue>, eager: readonly string[]): void => {
    if (eager.length > 0) {
      const [first, ...rest] = eager;
      if (!env.has(first)) {
        for (const v of domainOf(first)) {
          env.set(first, v);
          go(env, rest);
          env.delete(first);
        }
        return;
      }
      go(env, rest);
      return;
    }
    let value: T;
    try {
      value = run(env);
    } catch (e) {
      if (!(e instanceof Need)) throw e;
      if (env.has(e.input)) throw new Error(`internal: input ${e.input} requested twice`);
      for (const v of domainOf(e.input)) {
        env.set(e.input, v);
        go(env, []);
        env.delete(e.input);
      }
      return;
    }
    if (leaves.length >= max) throw new TooManyPaths(`more than ${max} paths`);
    leaves.push({ env: new Map(env), value });
  };
  go(new Map(), opts.eager ?? []);
  return leaves;
}

/** The leaves of a table as a decision tree: each node tests the input its paths read next. */
type Trie<T> = { leaf: T } | { input: string; next: Map<InputValue, Trie<T>> };

/**
 * The decision tree of leaves that `explore` produced (each leaf's env lists its inputs in the order the path
 * read them); undefined when the leaves are not of that shape (two disagree on which input comes next).
 */
function trieOf<T extends { env: Env }>(leaves: readonly T[]): Trie<T> | undefined {
  let root: Trie<T> | undefined;
  for (const l of leaves) {
    const path = [...l.env];
    // Where the next node goes: the root, or a child of `at` under `value`.
    let at: Extract<Trie<T>, { input: string }> | undefined;
    let value: InputValue | undefined;
    for (let i = 0; ; i++) {
      const here = at ? at.next.get(value!) : root;
      if (i === path.length) {
        if (here) return undefined; // another leaf already sits here: not a partition
        if (at) at.next.set(value!, { leaf: l });
        else root = { leaf: l };
        break;
      }
      const [k, v] = path[i];
      let node = here;
      if (!node) {
        node = { input: k, next: new Map() };
        if (at) at.next.set(value!, node);
        else root = node;
      }
      if (!("input" in node) || node.input !== k) return undefined;
      at = node;
      value = v;
    }
  }
  return root;
}

/**
 * A table given as paths (leaves that partition the input space) as a function of inputs: the leaf whose
 * assignment the inputs agree with. Asks for an input (Need) as the leaves read it. Leaves from `explore` are
 * walked as a decision tree, so a lookup costs the length of one path, not the number of leaves (comparing two
 * wide tables would otherwise be quadratic); other leaves are scanned in order, which asks the same questions.
 */
export function leafLookup<T extends { env: Env }>(leaves: readonly T[]): (env: Env) => T {
  const trie = trieOf(leaves);
  if (trie)
    return (env) => {
      let node = trie;
      while ("input" in node) {
        const got = env.get(node.input);
        if (got === undefined) throw new Need(node.input);
        const next = node.next.get(got);
        if (!next) throw new Error("internal: the table does not cover this input");
        node = next;
      }
      return node.leaf;
    };
  return (env) => {
    for (const l of leaves) {
      let ok = true;
      for (const [k, v] of l.env) {
        const got = env.get(k);
        if (got === undefined) throw new Need(k);
        if (got !== v) {
          ok = false;
          break;
        }
      }
      if (ok) return l;
    }
    throw new Error("internal: the table does not cover this input");
  };
}

export function condHolds(c: Cond, env: Env): boolean {
  return c.values.includes(need(env, c.input));
}

export function ruleMatches(r: Rule, env: Env): boolean {
  return r.when.every((c) => condHolds(c, env));
}

export function outcomeCode(o: Outcome, env: Env): number {
  if (o.type.kind === "const") return o.type.code;
  const v = need(env, o.type.input);
  const code = o.type.map[String(v)];
  if (code === undefined) throw new Error(`internal: no code for ${o.type.input}=${String(v)}`);
  return code;
}

export interface Result {
  mask: number;
  code: number;
  type: string;
  ipat: boolean;
  /** The rule that decided, or null for the default. */
  rule: Rule | null;
}

export function evaluate(p: Policy, env: Env): Result {
  for (const r of p.rules) {
    if (ruleMatches(r, env)) return result(r.then, env, r);
  }
  return result(p.default, env, null);
}

function result(o: Outcome, env: Env, rule: Rule | null): Result {
  const code = outcomeCode(o, env);
  return { mask: encodeMask(code, o.ipat), code, type: typeName(code), ipat: o.ipat, rule };
}

/** The inputs a policy can read: conditions and memory types drawn from inputs. */
export function policyInputs(p: Policy): string[] {
  const names: string[] = [];
  for (const r of p.rules) {
    for (const c of r.when) names.push(c.input);
    if (r.then.type.kind === "input") names.push(r.then.type.input);
  }
  if (p.default.type.kind === "input") names.push(p.default.type.input);
  return sortInputs(names);
}

/** Every assignment of `inputs` that a partial assignment stands for, in domain order. */
export function expand(env: Env, inputs: readonly string[]): Map<string, InputValue>[] {
  let rows: Map<string, InputValue>[] = [new Map()];
  for (const name of inputs) {
    const fixed = env.get(name);
    const values = fixed !== undefined ? [fixed] : domainOf(name);
    const next: Map<string, InputValue>[] = [];
    for (const row of rows) {
      for (const v of values) next.push(new Map(row).set(name, v));
    }
    rows = next;
  }
  return rows;
}

export interface TableRow {
  inputs: Map<string, InputValue>;
  result: Result;
}

/** The full truth table of a policy over the inputs it reads (or over `inputs`), in domain order. */
export function truthTable(p: Policy, inputs: readonly string[] = policyInputs(p)): TableRow[] {
  const rows: TableRow[] = [];
  for (const leaf of explore((env) => evaluate(p, env), { eager: inputs })) {
    rows.push({ inputs: new Map(inputs.map((n) => [n, leaf.env.get(n)!])), result: leaf.value });
  }
  return rows;
}
