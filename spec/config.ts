// Load stage (config): kspec.config.json — the user's policy directories, their own inputs bound to C shapes,
// extra C spellings of built-in inputs, and the (tree, policy) pairs `kspec sync` checks. Found from the current
// directory upwards, or named with --config; the old kspec.sync.json (pairs only) is still read. Every problem
// has file:line:col. The config in use is one per process (useConfig), asked by the loaders and the binder.

import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { InputError, SpecError, type SpecProblem } from "./errors.js";
import { readBounded, TooLarge } from "./files.js";
import type { Loc } from "./ir.js";
import { didYouMean } from "./suggest.js";
import { displayPath, parseJsonText, type Json, type Path } from "./load.js";

export const CONFIG_FILE = "kspec.config.json";
/** The config of earlier versions: `{ "pairs": [...] }` only. */
export const LEGACY_SYNC_CONFIG = "kspec.sync.json";

/** A boolean input of the user's, true where one of its C shapes is. */
export interface UserInput {
  name: string;
  shapes: Shape[];
  doc?: string;
}

/** A C expression as written in the config, with where it was written. */
export interface Shape {
  text: string;
  loc: Loc;
}

export interface SyncPair {
  kernel: string;
  policy: string;
  function?: string;
  flag?: string;
  /** Why the pair cannot be checked as written (an unset ${VAR}): sync reports it on the pair's own line. */
  error?: string;
}

export interface Config {
  /** The file it was read from (undefined: no config). */
  file?: string;
  /** Directories of the user's policies, searched before the built-ins. */
  policies: string[];
  inputs: UserInput[];
  /** Extra shapes of built-in inputs, by input name. */
  spellings: Map<string, Shape[]>;
  pairs: SyncPair[];
  /**
   * What in the config changes how C is read (inputs, spellings), as JSON: part of the cache key of extractions
   * (whole, not hashed: the key is compared whole, and a hash would load node:crypto).
   */
  fingerprint: string;
}

export const EMPTY_CONFIG: Config = {
  policies: [],
  inputs: [],
  spellings: new Map(),
  pairs: [],
  fingerprint: "",
};

let active: Config = EMPTY_CONFIG;

/** The config in use in this process. */
export function activeConfig(): Config {
  return active;
}

export function useConfig(c: Config): void {
  active = c;
}

/** The nearest kspec.config.json from a directory upwards, if there is one. */
export function findConfig(from: string): string | undefined {
  for (let d = resolve(from); ; d = dirname(d)) {
    const f = join(d, CONFIG_FILE);
    if (existsSync(f)) return f;
    if (dirname(d) === d) return undefined;
  }
}

/** Input names of the user's: a lower-case start, letters and digits (the families use a prefix with ':'). */
const INPUT_NAME = /^[a-z][A-Za-z0-9]*$/;

const KEYS = ["policies", "inputs", "spellings", "pairs"] as const;
const PAIR_KEYS = ["kernel", "policy", "function", "flag"] as const;

/**
 * Reads a config file. `builtinInput` tells which names the vocabulary has (user inputs may not reuse them,
 * spellings must name one); the vocabulary checks the rest when a policy uses the inputs.
 */
export function loadConfig(file: string, builtinInput: (name: string) => boolean): Config {
  const shown = displayPath(file);
  let text: string;
  try {
    text = readBounded(file, 1 << 20, shown).toString("utf8");
  } catch (e) {
    throw new SpecError([
      {
        kind: e instanceof TooLarge ? "too-large" : "unreadable",
        loc: { file: shown, line: 1, col: 1 },
        message: (e as Error).message,
      },
    ]);
  }
  const { value, locOf } = parseJsonText(text, shown);
  const problems: SpecProblem[] = [];
  const bad = (path: Path, message: string, kind: SpecProblem["kind"] = "bad-shape") =>
    problems.push({ kind, loc: locOf(path), message });
  const isObject = (v: Json): v is { [k: string]: Json } =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const strings = (v: Json, path: Path, what: string): string[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x.trim() === "")) {
      bad(path, `${what} must be a list of non-empty strings`);
      return [];
    }
    return v as string[];
  };
  const dir = dirname(resolve(file));
  const config: Config = {
    file: resolve(file),
    policies: [],
    inputs: [],
    spellings: new Map(),
    pairs: [],
    fingerprint: "",
  };

  if (!isObject(value)) {
    bad([], "the config is a JSON object");
    throw new SpecError(problems);
  }
  for (const k of Object.keys(value))
    if (!(KEYS as readonly string[]).includes(k))
      bad([k], `unknown key '${k}'${didYouMean(k, KEYS)} (the config has ${KEYS.join(", ")})`, "unknown-key");

  if (value.policies !== undefined) {
    strings(value.policies, ["policies"], '"policies"').forEach((p, i) => {
      const abs = resolve(dir, p);
      if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory())
        bad(["policies", i], `${p}: not a directory (relative to ${displayPath(dir) || "."})`);
      else config.policies.push(abs);
    });
  }

  if (value.inputs !== undefined) {
    if (!isObject(value.inputs)) bad(["inputs"], '"inputs" maps input names to { "c": [C expressions] }');
    else
      for (const [name, def] of Object.entries(value.inputs)) {
        if (!INPUT_NAME.test(name))
          bad(["inputs", name], `input name '${name}': a lower-case letter, then letters and digits`);
        else if (builtinInput(name))
          bad(["inputs", name], `'${name}' is a built-in input: give it more C with "spellings" instead`);
        if (!isObject(def)) {
          bad(["inputs", name], `inputs.${name} is { "c": [C expressions], "doc": "..." }`);
          continue;
        }
        for (const k of Object.keys(def))
          if (k !== "c" && k !== "doc")
            bad(
              ["inputs", name, k],
              `unknown key '${k}'${didYouMean(k, ["c", "doc"])} (an input has c, doc)`,
              "unknown-key",
            );
        if (def.doc !== undefined && typeof def.doc !== "string")
          bad(["inputs", name, "doc"], "doc is a string");
        const shapes = strings(def.c ?? null, ["inputs", name, "c"], `inputs.${name}.c`);
        if (Array.isArray(def.c) && def.c.length === 0)
          bad(["inputs", name, "c"], `inputs.${name}.c is empty: an input needs the C that stands for it`);
        config.inputs.push({
          name,
          doc: typeof def.doc === "string" ? def.doc : undefined,
          shapes: shapes.map((text, i) => ({ text, loc: locOf(["inputs", name, "c", i]) })),
        });
      }
  }

  if (value.spellings !== undefined) {
    if (!isObject(value.spellings)) bad(["spellings"], '"spellings" maps built-in inputs to [C expressions]');
    else
      for (const [name, list] of Object.entries(value.spellings)) {
        if (!builtinInput(name)) {
          bad(
            ["spellings", name],
            `'${name}' is not a built-in input (user inputs take their C in "inputs")`,
            "unknown-input",
          );
          continue;
        }
        const shapes = strings(list, ["spellings", name], `spellings.${name}`);
        config.spellings.set(
          name,
          shapes.map((text, i) => ({ text, loc: locOf(["spellings", name, i]) })),
        );
      }
  }

  if (value.pairs !== undefined) {
    if (!Array.isArray(value.pairs))
      bad(["pairs"], '"pairs" is a list of { "kernel", "policy", "function"?, "flag"? }');
    else config.pairs = readPairs(value.pairs, dir, bad);
  }

  if (problems.length) throw new SpecError(problems);
  config.fingerprint = JSON.stringify([
    config.inputs.map((i) => [i.name, i.shapes.map((s) => s.text)]),
    [...config.spellings].map(([k, v]) => [k, v.map((s) => s.text)]),
  ]);
  return config;
}

/** The pairs of a config; relative paths are relative to the config file, ${VAR} comes from the environment. */
function readPairs(
  list: Json[],
  dir: string,
  bad: (path: Path, message: string, kind?: SpecProblem["kind"]) => void,
): SyncPair[] {
  const out: SyncPair[] = [];
  list.forEach((p, i) => {
    if (typeof p !== "object" || p === null || Array.isArray(p)) {
      bad(["pairs", i], 'a pair is { "kernel", "policy", "function"?, "flag"? }');
      return;
    }
    for (const k of Object.keys(p))
      if (!(PAIR_KEYS as readonly string[]).includes(k))
        bad(
          ["pairs", i, k],
          `unknown key '${k}'${didYouMean(k, PAIR_KEYS)} (a pair has ${PAIR_KEYS.join(", ")})`,
          "unknown-key",
        );
    const unset: string[] = [];
    const field = (k: string, required: boolean): string | undefined => {
      const v = p[k];
      if (v === undefined && !required) return undefined;
      if (typeof v !== "string" || v === "") {
        bad(["pairs", i, k], `pairs[${i}]: '${k}' must be a non-empty string`);
        return undefined;
      }
      // An unset variable is this pair's problem, not the config's: the other pairs are still checked.
      return v.replace(/\$\{(\w+)\}/g, (whole, name: string) => {
        const val = process.env[name];
        if (val === undefined) unset.push(name);
        return val ?? whole;
      });
    };
    const [kernel, policy] = [field("kernel", true), field("policy", true)];
    const [fn, flag] = [field("function", false), field("flag", false)];
    if (kernel === undefined || policy === undefined) return;
    if (unset.length) {
      out.push({
        kernel,
        policy,
        function: fn,
        flag,
        error: `environment variable${unset.length > 1 ? "s" : ""} ${unset.join(", ")} ${unset.length > 1 ? "are" : "is"} not set`,
      });
      return;
    }
    out.push({
      kernel: resolveRevision(dir, kernel),
      policy: policy.endsWith(".ts") ? resolve(dir, policy) : policy,
      function: fn,
      flag,
    });
  });
  if (!out.length && !list.length) bad(["pairs"], '"pairs" is empty');
  return out;
}

/** A kernel path relative to the config, keeping a `@REV` suffix as it is. */
function resolveRevision(dir: string, kernel: string): string {
  const at = kernel.lastIndexOf("@");
  if (at > 0 && !existsSync(resolve(dir, kernel)))
    return `${resolve(dir, kernel.slice(0, at))}${kernel.slice(at)}`;
  return resolve(dir, kernel);
}

/** A config named on the command line must exist; one found upwards always does. */
export function configFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined) {
    if (!existsSync(explicit)) throw new InputError(`${explicit}: no such config file`);
    return explicit;
  }
  return findConfig(cwd);
}
