// Import stage: the decision table a C function computes, turned back into an ordered rule list that a person
// would have written — one rule per way the C returns, in the C's order, conditions simplified by that order —
// and proven equal to the C before it is returned; importAndProve also writes it as a policy file's text, reads
// that text back and proves the result equal to the C.

import { compareFns } from "../spec/compare.js";
import { cubeOf, mergeCubes, type Cube } from "../spec/cubes.js";
import { InputError } from "../spec/errors.js";
import { evaluate, explore, leafLookup, Need, ruleMatches, type Env } from "../spec/evaluate.js";
import type { Cond, Loc, Outcome, Policy, Rule, TypeSource } from "../spec/ir.js";
import { decodeMask, encodeMask, isEptCode } from "../spec/memtypes.js";
import { domainOf, sortInputs, type InputValue } from "../spec/vocabulary.js";
import { parseSpecText, displayPath } from "../spec/load.js";
import { toPolicy } from "../spec/validate.js";
import { policyFileText } from "../spec/write.js";
import type { CLoc } from "../kernel/problems.js";
import type { KernelTree } from "../kernel/tree.js";
import { checkTree } from "./check.js";
import { DEFAULT_FUNCTION, extractWith, openFunction, type CLeaf, type FunctionInfo } from "./extract.js";

export interface ImportedRule extends Rule {
  /** The C return the rule came from. */
  ret: CLoc;
  /** The rule's conditions as the C path had them, before simplification (for naming). */
  orig: Cube;
}

export interface ImportedPolicy extends Policy {
  rules: ImportedRule[];
  default: Policy["default"] & { ret: CLoc };
  fn: FunctionInfo;
  kernelVersion?: string;
}

/** "6.12.57" from the tree's top Makefile, when it says. */
export function kernelVersion(tree: KernelTree): string | undefined {
  const mk = tree.read("Makefile") ?? "";
  const v = (k: string) => new RegExp(`^${k}\\s*=\\s*(\\d+)\\s*$`, "m").exec(mk)?.[1];
  const [a, b, c] = [v("VERSION"), v("PATCHLEVEL"), v("SUBLEVEL")];
  return a && b ? `${a}.${b}${c !== undefined ? `.${c}` : ""}` : undefined;
}

interface Piece {
  cube: Cube;
  type: TypeSource;
  ipat: boolean;
  ret: CLoc;
}

const MEMTYPE_INPUTS = ["guestMtrr", "hostPat"];

function typeKey(t: TypeSource): string {
  return t.kind === "const" ? `c${t.code}` : `${t.input}:${JSON.stringify(t.map)}`;
}

function constType(code: number, where: CLoc): TypeSource {
  if (!isEptCode(code)) {
    throw new InputError(
      `${where.file}:${where.line}: the C returns memory-type code ${code}, which a policy cannot hold (EPT misconfiguration)`,
    );
  }
  return { kind: "const", code };
}

/** Leaves whose type follows a memory-type input become one piece typed by that input. */
function pieces(leaves: readonly CLeaf[]): Piece[] {
  let work: { env: Map<string, InputValue>; mask: number; ret: CLoc; type?: TypeSource }[] = leaves.map(
    (l) => ({
      env: new Map(l.env),
      mask: l.mask,
      ret: l.ret,
    }),
  );
  for (const input of MEMTYPE_INPUTS) {
    const groups = new Map<string, typeof work>();
    for (const w of work) {
      if (!w.env.has(input) || w.type) continue;
      const rest = sortInputs([...w.env.keys()].filter((k) => k !== input)).map(
        (k) => `${k}=${String(w.env.get(k))}`,
      );
      const k = `${rest.join(",")}|${w.ret.file}:${w.ret.line}|${decodeMask(w.mask).ipat}`;
      const g = groups.get(k) ?? [];
      g.push(w);
      groups.set(k, g);
    }
    const next = work.filter((w) => !w.env.has(input) || w.type);
    for (const g of groups.values()) {
      const codes = new Set(g.map((w) => decodeMask(w.mask).code));
      if (g.length !== domainOf(input).length || codes.size === 1) {
        next.push(...g);
        continue;
      }
      const map: Record<string, number> = {};
      for (const w of g) map[String(w.env.get(input))] = decodeMask(w.mask).code;
      if (Object.values(map).some((c) => !isEptCode(c))) {
        next.push(...g);
        continue;
      }
      const env = new Map(g[0].env);
      env.delete(input);
      next.push({
        env,
        mask: encodeMask(0, decodeMask(g[0].mask).ipat),
        ret: g[0].ret,
        type: { kind: "input", input, map },
      });
    }
    work = next;
  }
  return work.map((w) => {
    const d = decodeMask(w.mask);
    if (d.stray)
      throw new InputError(
        `${w.ret.file}:${w.ret.line}: the C returns 0x${w.mask.toString(16)}, with bits outside the EPT memory type and IPAT`,
      );
    return { cube: cubeOf(w.env), type: w.type ?? constType(d.code, w.ret), ipat: d.ipat, ret: w.ret };
  });
}

const NAMES: [Record<string, InputValue[]>, string][] = [
  [{ isMmio: [true] }, "mmio"],
  [{ noncoherentDma: [false] }, "coherent"],
  [{ cr0Cd: [true], quirkCdNwCleared: [true] }, "cd-quirk"],
  [{ cr0Cd: [true], quirkCdNwCleared: [false] }, "cd"],
  [{ cr0Cd: [true] }, "cd"],
  [{ noncoherentDma: [false], quirkIgnoreGuestPat: [true] }, "ignore-guest-pat"],
  [{ slotFlag: [true] }, "slot-flag"],
];

/**
 * A name a kernel developer would use: the known pattern the rule's conditions match, else the most specific known
 * pattern its original (unsimplified) path satisfies, else one spelled from its conditions.
 */
function ruleName(when: readonly Cond[], orig: Cube, taken: Set<string>, line: number): string {
  const same = (pattern: Record<string, InputValue[]>) =>
    Object.keys(pattern).length === when.length &&
    when.every(
      (c) =>
        pattern[c.input] &&
        pattern[c.input].length === c.values.length &&
        c.values.every((v) => pattern[c.input].includes(v)),
    );
  const within = (pattern: Record<string, InputValue[]>) =>
    Object.entries(pattern).every(([k, vs]) => orig.get(k)?.every((v) => vs.includes(v)));
  const candidates = [
    ...NAMES.filter(([p]) => same(p)),
    ...NAMES.filter(([p]) => within(p)).sort((a, b) => Object.keys(b[0]).length - Object.keys(a[0]).length),
  ].map(([, n]) => n);
  const free = candidates.find((n) => !taken.has(n));
  let base = free ?? candidates[0];
  if (!base) {
    base = when
      .map((c) =>
        c.values.length === 1 && typeof c.values[0] === "boolean"
          ? `${c.values[0] ? "" : "not-"}${c.input}`
          : `${c.input}-${c.values.join("-")}`,
      )
      .join("-")
      .replace(/[^A-Za-z0-9-]/g, "")
      .toLowerCase();
    if (!base || base.length > 48) base = `line-${line}`;
  }
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

function conds(c: Cube): Cond[] {
  return sortInputs(c.keys()).map((input) => ({ input, values: [...c.get(input)!] }));
}

function equalToTable(p: Policy, c: (env: Env) => CLeaf): boolean {
  return compareFns(
    (env) => ({ mask: c(env).mask, origin: 0 }),
    (env) => ({ mask: evaluate(p, env).mask, origin: 0 }),
    String,
  ).equal;
}

/**
 * The rules of a C table. `name` names the policy; rule locations point at the C returns. The result is checked
 * against the table before it is returned: an import that does not reproduce the C is an internal error.
 */
export function importTable(
  leaves: readonly CLeaf[],
  fn: FunctionInfo,
  name: string,
  version?: string,
): ImportedPolicy {
  if (leaves.length === 0) throw new InputError(`${fn.file}:${fn.line}: ${fn.name}() has no paths to import`);
  const c = leafLookup(leaves);
  const ps = pieces(leaves);
  // One candidate rule per (C return, outcome), merged into as few conjunctions as the table allows.
  const groups = new Map<string, Piece[]>();
  for (const p of ps) {
    const k = `${String(p.ret.line).padStart(8, "0")}|${p.ret.file}|${typeKey(p.type)}|${p.ipat}`;
    const g = groups.get(k) ?? [];
    g.push(p);
    groups.set(k, g);
  }
  const keys = [...groups.keys()].sort();
  const lastLine = Math.max(...ps.map((p) => p.ret.line));
  // The default: the outcome of the C's last return (the fall-through), when that return has one outcome.
  const lastKeys = keys.filter((k) => groups.get(k)![0].ret.line === lastLine);
  const defKey = lastKeys.length === 1 ? lastKeys[0] : keys[keys.length - 1];
  const def = groups.get(defKey)![0];
  const at = (ret: CLoc): Loc => ({ file: ret.file, line: ret.line, col: 1 });
  const origin = name;

  let rules: ImportedRule[] = [];
  const taken = new Set<string>();
  for (const k of keys) {
    if (k === defKey) continue;
    const g = groups.get(k)!;
    for (const cube of mergeCubes(g.map((p) => p.cube))) {
      const when = conds(cube);
      rules.push({
        name: "",
        when,
        then: { type: g[0].type, ipat: g[0].ipat },
        overrides: [],
        loc: at(g[0].ret),
        origin,
        ret: g[0].ret,
        orig: cube,
      });
    }
  }
  const defaultOutcome: Outcome = { type: def.type, ipat: def.ipat };
  const make = (rs: ImportedRule[]): ImportedPolicy => ({
    name,
    source: `${fn.file} ${fn.name}()${version ? `, Linux ${version}` : ""}`,
    rules: rs,
    default: { ...defaultOutcome, loc: at(def.ret), origin, ret: def.ret },
    fn,
    kernelVersion: version,
  });
  // Simplify by order: drop each literal that the earlier rules make unnecessary.
  for (let i = 0; i < rules.length; i++) {
    for (const lit of [...rules[i].when].reverse()) {
      const trial = rules.map((r, j) => (j === i ? { ...r, when: r.when.filter((x) => x !== lit) } : r));
      if (trial[i].when.length > 0 && equalToTable(withOverrides(make(trial)), c)) rules = trial;
    }
  }
  // A rule the simplified earlier ones now cover is dead weight.
  rules = rules.filter((r, i) =>
    explore((env) => rules.findIndex((x) => ruleMatches(x, env)) === i).some((l) => l.value),
  );
  for (const r of rules) r.name = ruleName(r.when, r.orig, taken, r.ret.line);
  const policy = withOverrides(make(rules));
  if (!equalToTable(policy, c))
    throw new Error(`internal: the imported policy of ${fn.name}() does not reproduce the C`);
  return policy;
}

/** Each rule overrides exactly the later rules it overlaps with a different result (where it wins by order). */
function withOverrides(p: ImportedPolicy): ImportedPolicy {
  const rules = p.rules.map((r) => ({ ...r, overrides: [] as string[] }));
  const mask = (o: Outcome, env: Env) => {
    const code = o.type.kind === "const" ? o.type.code : o.type.map[String(envGet(env, o.type.input))];
    return encodeMask(code, o.ipat);
  };
  rules.forEach((a, i) => {
    rules.slice(i + 1).forEach((b, jj) => {
      const j = i + 1 + jj;
      const conflict = explore((env) => {
        if (rules.findIndex((r) => ruleMatches(r, env)) !== i || !ruleMatches(b, env)) return false;
        return mask(a.then, env) !== mask(b.then, env);
      }).some((l) => l.value);
      if (conflict) a.overrides.push(b.name || `#${j}`);
    });
  });
  // Names are assigned after simplification; placeholders (#j) are resolved then.
  for (const r of rules)
    r.overrides = r.overrides.map((o) => (o.startsWith("#") ? rules[Number(o.slice(1))].name || o : o));
  return { ...p, rules };
}

function envGet(env: Env, k: string): InputValue {
  const v = env.get(k);
  if (v === undefined) throw new Need(k);
  return v;
}

/** The tree's own function as a policy: what a bare proposal is applied to. */
export function importTree(
  tree: KernelTree,
  flagMacros: readonly string[],
  fnName = DEFAULT_FUNCTION,
  name?: string,
): ImportedPolicy {
  const { info, interp } = openFunction(tree, fnName, flagMacros);
  const x = extractWith(interp, info);
  if (x.kind === "unverifiable") {
    const p = x.problems[0];
    throw new InputError(
      `${p.file}:${p.line}: the tree's ${info.name}() cannot be modeled (${p.message}), so kspec cannot import it`,
    );
  }
  const version = kernelVersion(tree);
  return importTable(x.leaves, info, name ?? (version ? `linux-${version}` : "tree"), version);
}

export interface ImportResult {
  policy: Policy;
  fn: FunctionInfo;
  /** The policy file's text, exactly as it is to be written. */
  text: string;
  combinations: number;
}

/**
 * A tree's function as a policy file: imported, written as TypeScript, read back from that very text, validated,
 * and proven equal to the C on every input before anyone writes it.
 */
export async function importAndProve(
  tree: KernelTree,
  o: { name: string; function?: string; flagMacros: readonly string[]; file: string; dsl: string },
): Promise<ImportResult> {
  const fn = o.function ?? DEFAULT_FUNCTION;
  const p = importTree(tree, o.flagMacros, fn, o.name);
  const version = p.kernelVersion ? `Linux ${p.kernelVersion}` : "kernel version unknown";
  const text = await policyFileText(p, {
    file: o.file,
    dsl: o.dsl,
    header: [
      `Imported by kspec from ${p.fn.file} ${p.fn.name}() (${version}).`,
      "One rule per way the C returns, in the C's order; each names the C line it came from.",
    ],
    provenance: (r) => {
      const ret = r === "default" ? p.default.ret : p.rules.find((x) => x.name === r.name)!.ret;
      return `${ret.file}:${ret.line} (${version})`;
    },
  });
  const back = toPolicy(await parseSpecText(text, displayPath(o.file)));
  const v = checkTree(tree, back, { function: fn, flagMacros: o.flagMacros });
  if (v.verdict !== "equal") throw new Error(`internal: the imported policy is ${v.verdict} to ${fn}()`);
  return { policy: back, fn: v.fn, text, combinations: v.combinations };
}
