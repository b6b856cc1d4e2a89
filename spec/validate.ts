// Validate stage: the one validating conversion from authoring data to IR, and the checks a policy must pass
// before anything uses it. Every problem is collected, each with the file:line:col of what caused it.

import { PAT_ONLY_CODES, RESERVED_CODES, TYPE_CODE, typeName } from "./memtypes.js";
import type { Cond, Insert, Outcome, Policy, Proposal, Rule, TypeSource } from "./ir.js";
import { SpecError, type SpecProblem, type SpecProblemKind } from "./errors.js";
import type { Json, LoadedFile, Path } from "./load.js";
import { explore, ruleMatches, outcomeCode, type Env } from "./evaluate.js";
import { formatLiteral, inputDef, sortInputs, unknownInputText, type InputValue } from "./vocabulary.js";

type Obj = { [k: string]: Json };

class Converter {
  readonly problems: SpecProblem[] = [];
  constructor(readonly f: LoadedFile) {}

  err(kind: SpecProblemKind, path: Path, message: string): void {
    this.problems.push({ kind, loc: this.f.locOf(path), message });
  }

  obj(v: Json | undefined, path: Path, what: string): Obj | undefined {
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
    this.err("bad-shape", path, `${what} must be an object`);
    return undefined;
  }

  str(o: Obj, key: string, path: Path, required = true): string | undefined {
    const v = o[key];
    if (v === undefined) {
      if (required) this.err("bad-shape", path, `missing '${key}'`);
      return undefined;
    }
    if (typeof v !== "string" || v === "") {
      this.err("bad-shape", [...path, key], `'${key}' must be a non-empty string`);
      return undefined;
    }
    return v;
  }

  known(o: Obj, keys: readonly string[], path: Path): void {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k))
        this.err("unknown-key", [...path, k], `unknown key '${k}' (expected ${keys.join(", ")})`);
    }
  }

  type(v: Json | undefined, path: Path): TypeSource | undefined {
    if (typeof v === "number") return this.code(v, path, String(v));
    if (typeof v === "string") {
      if (v === "guestMtrr" || v === "hostPat") return this.fromInput(v, {}, path);
      if (v in TYPE_CODE) return this.code(TYPE_CODE[v as keyof typeof TYPE_CODE], path, v);
      this.err(
        "bad-type",
        path,
        `'${v}' is not a memory type (UC, WC, WT, WP, WB) or a memory-type input (guestMtrr, hostPat)`,
      );
      return undefined;
    }
    if (v && typeof v === "object" && !Array.isArray(v)) {
      this.known(v, ["from", "map"], path);
      const from = v.from;
      if (from !== "guestMtrr" && from !== "hostPat") {
        this.err("bad-type", [...path, "from"], "'from' must be guestMtrr or hostPat");
        return undefined;
      }
      const map: Record<string, number> = {};
      const m = v.map ?? {};
      if (typeof m !== "object" || Array.isArray(m) || m === null) {
        this.err("bad-type", [...path, "map"], "'map' must be an object from input value to memory type");
        return undefined;
      }
      for (const [k, t] of Object.entries(m)) {
        const kp = [...path, "map", k];
        if (!inputDef(from)!.domain.includes(k)) {
          this.err("bad-value", kp, `${from} has no value '${k}'`);
          continue;
        }
        const code =
          typeof t === "number"
            ? t
            : typeof t === "string"
              ? TYPE_CODE[t as keyof typeof TYPE_CODE]
              : undefined;
        if (code === undefined) this.err("bad-type", kp, `'${String(t)}' is not a memory type`);
        else map[k] = code;
      }
      return this.fromInput(from, map, path);
    }
    this.err("bad-type", path, "'type' must be a memory type, a code, or { from, map }");
    return undefined;
  }

  code(code: number, path: Path, spelled: string): TypeSource | undefined {
    if (!Number.isInteger(code) || code < 0 || code > 7 || RESERVED_CODES.includes(code)) {
      this.err(
        "reserved-type",
        path,
        `memory type ${spelled} is a reserved code: an EPT entry with it is a misconfiguration`,
      );
      return undefined;
    }
    if (PAT_ONLY_CODES.includes(code)) {
      this.err(
        "pat-only-type",
        path,
        `memory type ${typeName(code)} (${code}) exists only in PAT; an EPT entry cannot hold it`,
      );
      return undefined;
    }
    return { kind: "const", code };
  }

  fromInput(
    input: "guestMtrr" | "hostPat",
    over: Record<string, number>,
    path: Path,
  ): TypeSource | undefined {
    const map: Record<string, number> = {};
    let ok = true;
    for (const v of inputDef(input)!.domain) {
      const code = over[String(v)] ?? TYPE_CODE[v as keyof typeof TYPE_CODE];
      if (PAT_ONLY_CODES.includes(code)) {
        this.err(
          "pat-only-type",
          path,
          `${input} can be ${String(v)} (${code}), which exists only in PAT and an EPT entry cannot hold; map it (map: { "${String(v)}": "UC" })`,
        );
        ok = false;
      } else if (RESERVED_CODES.includes(code) || code < 0 || code > 7) {
        this.err("reserved-type", path, `${input}=${String(v)} maps to reserved code ${code}`);
        ok = false;
      }
      map[String(v)] = code;
    }
    return ok ? { kind: "input", input, map } : undefined;
  }

  outcome(v: Json | undefined, path: Path): Outcome | undefined {
    const o = this.obj(v, path, "an outcome");
    if (!o) return undefined;
    this.known(o, ["type", "ipat", "why"], path);
    if (o.type === undefined) this.err("bad-shape", path, "missing 'type'");
    const type = o.type === undefined ? undefined : this.type(o.type, [...path, "type"]);
    if (typeof o.ipat !== "boolean") this.err("bad-shape", [...path, "ipat"], "'ipat' must be true or false");
    const why = this.str(o, "why", path, false);
    if (!type || typeof o.ipat !== "boolean") return undefined;
    return { type, ipat: o.ipat, why };
  }

  when(v: Json | undefined, path: Path): Cond[] | undefined {
    const o = this.obj(v, path, "'when'");
    if (!o) return undefined;
    const conds: Cond[] = [];
    let ok = true;
    for (const [input, val] of Object.entries(o)) {
      const kp = [...path, input];
      const def = inputDef(input);
      if (!def) {
        this.err("unknown-input", kp, unknownInputText(input));
        ok = false;
        continue;
      }
      // An alias (quirk:KVM_X86_QUIRK_CD_NW_CLEARED) is the vocabulary's input (quirkCdNwCleared).
      if (conds.some((c) => c.input === def.name)) {
        this.err("duplicate-key", kp, `${input} is ${def.name}, which this condition already names`);
        ok = false;
        continue;
      }
      const values: InputValue[] = Array.isArray(val) ? (val as InputValue[]) : [val as InputValue];
      const bad = values.filter((x) => !def.domain.includes(x));
      if (bad.length || values.length === 0 || (def.kind === "bool" && Array.isArray(val))) {
        this.err(
          "bad-value",
          kp,
          `${input} takes ${def.kind === "bool" ? "true or false" : "one of " + def.domain.join(", ") + " (or a list of them)"}`,
        );
        ok = false;
        continue;
      }
      conds.push({ input: def.name, values: def.domain.filter((x) => values.includes(x)) });
    }
    return ok ? conds : undefined;
  }

  rule(v: Json, path: Path, origin: string): Rule | undefined {
    const o = this.obj(v, path, "a rule");
    if (!o) return undefined;
    this.known(o, ["name", "when", "then", "overrides", "why"], path);
    const name = this.str(o, "name", path);
    const when =
      o.when === undefined
        ? (this.err("bad-shape", path, "missing 'when'"), undefined)
        : this.when(o.when, [...path, "when"]);
    const then =
      o.then === undefined
        ? (this.err("bad-shape", path, "missing 'then'"), undefined)
        : this.outcome(o.then, [...path, "then"]);
    let overrides: readonly string[] | "*" = [];
    if (o.overrides === "*") overrides = "*";
    else if (Array.isArray(o.overrides) && o.overrides.every((x) => typeof x === "string"))
      overrides = o.overrides as string[];
    else if (o.overrides !== undefined)
      this.err("bad-shape", [...path, "overrides"], "'overrides' must be a list of rule names or \"*\"");
    const why = this.str(o, "why", path, false);
    if (!name || !when || !then) return undefined;
    return { name, when: sortConds(when), then, overrides, why, loc: this.f.locOf(path), origin };
  }

  rules(v: Json | undefined, path: Path, origin: string): Rule[] {
    if (!Array.isArray(v)) {
      this.err("bad-shape", path, "'rules' must be a list");
      return [];
    }
    return v.map((r, i) => this.rule(r, [...path, i], origin)).filter((r): r is Rule => r !== undefined);
  }
}

function sortConds(conds: Cond[]): Cond[] {
  const order = sortInputs(conds.map((c) => c.input));
  return order.map((n) => conds.find((c) => c.input === n)!);
}

/**
 * Text of a spec file reaches generated C comments, commit messages and mails. What could end a comment and put
 * live C in a patch (`*\/`, `/*`), or end a commit message early and start a patch of its own in `git am`
 * (`---`, `diff -`, `Index: ` at the start of a wrapped line), or hide in a terminal (NUL and other control
 * characters) is refused, at the string that holds it.
 */
const UNSAFE: [RegExp, string][] = [
  [/\*\//, "'*/' (it would close the generated C comment)"],
  [/\/\*/, "'/*' (it would open a C comment inside the generated one)"],
  [/\0/, "a NUL character"],
  [/[\x01-\x08\x0b-\x1f\x7f-\x9f]/, "a control character"],
  [/---/, "'---' (git am reads a line starting with it as the end of the commit message)"],
  [/diff -|Index: /, "'diff -' or 'Index: ' (git am reads a line starting with it as the start of a patch)"],
  [/^\s*[A-Z][\w-]*-by:/m, "a trailer line such as 'Signed-off-by:' (only the --signoff identity signs)"],
];

export function unsafeText(f: LoadedFile): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const visit = (v: Json, path: Path): void => {
    if (typeof v === "string") {
      const hit = UNSAFE.find(([re]) => re.test(v));
      if (hit)
        problems.push({
          kind: "unsafe-text",
          loc: f.locOf(path),
          message: `${path.length ? `'${path.join(".")}'` : "this text"} contains ${hit[1]}`,
        });
    } else if (Array.isArray(v)) v.forEach((x, i) => visit(x, [...path, i]));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) visit(x, [...path, k]);
  };
  visit(f.value, []);
  return problems;
}

/** A policy file -> IR, with every problem of the file itself (shape, inputs, types) and of its rules. */
export function toPolicy(f: LoadedFile): Policy {
  const c = new Converter(f);
  c.problems.push(...unsafeText(f));
  const top = c.obj(f.value, [], "the policy");
  if (!top) throw new SpecError(c.problems);
  c.known(top, ["name", "source", "summary", "rules", "default"], []);
  const name = c.str(top, "name", []) ?? "?";
  const source = c.str(top, "source", []) ?? "";
  const summary = c.str(top, "summary", [], false);
  const rules = c.rules(top.rules, ["rules"], name);
  let def: Outcome | undefined;
  if (top.default === undefined) {
    c.err("missing-default", [], `policy '${name}' has no default: every input must get a memory type`);
  } else {
    def = c.outcome(top.default, ["default"]);
  }
  if (c.problems.length || !def) throw new SpecError(c.problems);
  const policy: Policy = {
    name,
    source,
    summary,
    file: f.file,
    rules,
    default: { ...def, loc: f.locOf(["default"]), origin: name },
  };
  checkRules(policy);
  return policy;
}

export function toProposal(f: LoadedFile): Proposal {
  const c = new Converter(f);
  c.problems.push(...unsafeText(f));
  const top = c.obj(f.value, [], "the proposal");
  if (!top) throw new SpecError(c.problems);
  c.known(top, ["name", "source", "summary", "flag", "insert"], []);
  const name = c.str(top, "name", []) ?? "?";
  const source = c.str(top, "source", []) ?? "";
  const summary = c.str(top, "summary", [], false);
  const flag = c.str(top, "flag", [], false);
  const inserts: Insert[] = [];
  if (!Array.isArray(top.insert) || top.insert.length === 0) {
    c.err("bad-shape", ["insert"], "'insert' must be a non-empty list of { after | before, rules }");
  } else {
    top.insert.forEach((ins, i) => {
      const p: Path = ["insert", i];
      const o = c.obj(ins, p, "an insertion");
      if (!o) return;
      c.known(o, ["after", "before", "rules"], p);
      const anchors = (["after", "before"] as const).filter((k) => o[k] !== undefined);
      if (anchors.length !== 1) {
        c.err("bad-shape", p, "an insertion names exactly one of 'after' or 'before'");
        return;
      }
      const ref = c.str(o, anchors[0], p);
      const rules = c.rules(o.rules, [...p, "rules"], name);
      if (ref) inserts.push({ anchor: anchors[0], ref, refLoc: f.locOf([...p, anchors[0]]), rules });
    });
  }
  if (c.problems.length) throw new SpecError(c.problems);
  return { name, source, summary, flag, file: f.file, inserts };
}

/** BASE+PROPOSAL: the proposal's rules inserted before/after the named rules of the base. */
export function compose(base: Policy, prop: Proposal): Policy {
  const problems: SpecProblem[] = [];
  let rules = [...base.rules];
  for (const ins of prop.inserts) {
    const at = rules.findIndex((r) => r.name === ins.ref);
    if (at < 0) {
      problems.push({
        kind: "unknown-anchor",
        loc: ins.refLoc,
        message: `proposal '${prop.name}' inserts ${ins.anchor} rule '${ins.ref}', which '${base.name}' does not have (it has: ${rules.map((r) => r.name).join(", ") || "no rules"})`,
      });
      continue;
    }
    const pos = ins.anchor === "after" ? at + 1 : at;
    rules = [
      ...rules.slice(0, pos),
      ...ins.rules.map((r) => ({ ...r, inserted: true })),
      ...rules.slice(pos),
    ];
  }
  if (problems.length) throw new SpecError(problems);
  const policy: Policy = {
    ...base,
    name: `${base.name}+${prop.name}`,
    source: `${base.source}; ${prop.source}`,
    summary: prop.summary ?? base.summary,
    rules,
    flag: prop.flag ?? base.flag,
  };
  checkRules(policy);
  return policy;
}

/** At most this many names in one message: a rule covered by hundreds of earlier ones still gets one line. */
const MAX_NAMED = 3;

function nameList(rules: readonly Rule[]): string {
  const shown = rules.slice(0, MAX_NAMED).map((e) => `'${e.name}' (line ${e.loc.line})`);
  return rules.length > MAX_NAMED
    ? `${shown.join(", ")} and ${rules.length - MAX_NAMED} more`
    : shown.join(", ");
}

/** Can the conditions of two rules hold at once? (Each is a conjunction; an input absent from one is free.) */
function cubesMeet(a: readonly Cond[], b: readonly Cond[]): boolean {
  return a.every((x) => {
    const y = b.find((c) => c.input === x.input);
    return !y || x.values.some((v) => y.values.includes(v));
  });
}

/**
 * The semantic checks: unique names, known override targets, no rule that can never fire, and no overlap of two
 * rules with different results unless the earlier one says it overrides the later one.
 *
 * One exploration of the policy's decision list gives its regions (each with the rule that decides there); every
 * check reads those regions, so the cost grows with rules × regions, not with the product of all domains.
 */
export function checkRules(p: Policy): void {
  const problems: SpecProblem[] = [];
  const seen = new Map<string, Rule>();
  for (const r of p.rules) {
    const prev = seen.get(r.name);
    if (prev)
      problems.push({
        kind: "duplicate-rule",
        loc: r.loc,
        message: `rule name '${r.name}' is used twice (first at line ${prev.loc.line})`,
      });
    seen.set(r.name, r);
  }
  for (const r of p.rules) {
    if (r.overrides === "*") continue;
    for (const o of r.overrides) {
      if (!seen.has(o))
        problems.push({
          kind: "unknown-rule",
          loc: r.loc,
          message: `rule '${r.name}' overrides '${o}', which is not a rule of '${p.name}'`,
        });
    }
  }

  const regions = explore((env) => firstMatch(p, env));
  const fires = new Set(regions.map((l) => l.value));
  p.rules.forEach((r, i) => {
    if (fires.has(i)) return;
    const earlier = p.rules.slice(0, i).filter((e) => cubesMeet(e.when, r.when));
    problems.push({
      kind: "unreachable-rule",
      loc: r.loc,
      message: `rule '${r.name}' can never fire: ${earlier.length ? `the earlier rules ${nameList(earlier)} cover every case where it matches` : "its conditions are contradictory"}`,
    });
  });

  const overlaps: { i: number; j: number; problem: SpecProblem }[] = [];
  const reported = new Set<string>();
  for (const region of regions) {
    const i = region.value;
    if (i < 0) continue;
    const a = p.rules[i];
    if (a.overrides === "*") continue;
    for (let j = i + 1; j < p.rules.length; j++) {
      const b = p.rules[j];
      const key = `${i}\0${j}`;
      if (reported.has(key) || !fires.has(j) || a.overrides.includes(b.name) || (b.inserted && !a.inserted))
        continue;
      // Does b match somewhere in this region, with a different result from a's there?
      if (!b.when.every((c) => !region.env.has(c.input) || c.values.includes(region.env.get(c.input)!)))
        continue;
      const witness = explore((extra) => {
        const env = new Map([...region.env, ...extra]);
        return ruleMatches(b, env) && outcomeMask(a.then, env) !== outcomeMask(b.then, env) ? env : undefined;
      }).find((l) => l.value)?.value;
      if (!witness) continue;
      reported.add(key);
      overlaps.push({
        i,
        j,
        problem: {
          kind: "overlapping-rules",
          loc: b.loc,
          message: `rules '${a.name}' (line ${a.loc.line}) and '${b.name}' both match when ${describeEnv(witness)} and give different types; '${a.name}' wins by order — if that is intended, add overrides: ["${b.name}"] to '${a.name}'`,
        },
      });
    }
  }
  problems.push(...overlaps.sort((x, y) => x.i - y.i || x.j - y.j).map((o) => o.problem));
  if (problems.length) throw new SpecError(problems);
}

function firstMatch(p: Policy, env: Env): number {
  return p.rules.findIndex((r) => ruleMatches(r, env));
}

function outcomeMask(o: Outcome, env: Env): number {
  return (outcomeCode(o, env) << 3) | (o.ipat ? 64 : 0);
}

export function describeEnv(env: Env): string {
  const names = sortInputs(env.keys());
  return names.length ? names.map((n) => formatLiteral(n, [env.get(n)!])).join(", ") : "always";
}
