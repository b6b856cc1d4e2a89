// Load stage (flag specs): memslot-flag specs (spec/flags/) read and validated like policies.

import { existsSync, statSync } from "node:fs";
import { join, resolve as resolvePath } from "node:path";
import type { FlagSpec } from "./dsl.js";
import { InputError, SpecError, type SpecProblem } from "./errors.js";
import { didYouMean } from "./suggest.js";
import type { Loc } from "./ir.js";
import { loadSpecFile, type LoadedFile } from "./load.js";
import { FLAG_DIR } from "./root.js";
import { unsafeText } from "./validate.js";
import { builtinNames } from "./resolve.js";

export interface Flag extends FlagSpec {
  file: string;
  loc: Loc;
}

const STRING_KEYS = [
  "name",
  "macro",
  "helper",
  "capability",
  "proposal",
  "summary",
  "source",
  "doc",
  "capDoc",
  "why",
] as const;

export function toFlag(f: LoadedFile): Flag {
  const problems: SpecProblem[] = [...unsafeText(f)];
  const v = f.value;
  if (f.kind !== "flag" || !v || typeof v !== "object" || Array.isArray(v)) {
    throw new SpecError([
      {
        kind: "bad-shape",
        loc: f.locOf([]),
        message: "not a memslot-flag spec (export default defineFlag({...}))",
      },
    ]);
  }
  const err = (key: string, message: string) =>
    problems.push({ kind: "bad-shape", loc: f.locOf([key]), message });
  for (const k of STRING_KEYS)
    if (typeof v[k] !== "string" || v[k] === "") err(k, `'${k}' must be a non-empty string`);
  for (const k of ["mutable", "hostMemtype"])
    if (typeof v[k] !== "boolean") err(k, `'${k}' must be true or false`);
  for (const k of ["incompatible", "arches"]) {
    const a = v[k];
    if (!Array.isArray(a) || !a.every((x) => typeof x === "string"))
      err(k, `'${k}' must be a list of strings`);
  }
  const known = [...STRING_KEYS, "mutable", "hostMemtype", "incompatible", "arches"];
  for (const k of Object.keys(v))
    if (!known.includes(k))
      problems.push({ kind: "unknown-key", loc: f.locOf([k]), message: `unknown key '${k}'` });
  if (typeof v.macro === "string" && !/^KVM_MEM_[A-Z0-9_]+$/.test(v.macro))
    err("macro", "'macro' must be KVM_MEM_<NAME>");
  if (typeof v.capability === "string" && !/^KVM_CAP_[A-Z0-9_]+$/.test(v.capability))
    err("capability", "'capability' must be KVM_CAP_<NAME>");
  if (typeof v.helper === "string" && !/^kvm_slot_[a-z0-9_]+$/.test(v.helper))
    err("helper", "'helper' must be kvm_slot_<name>");
  if (problems.length) throw new SpecError(problems);
  return { ...(v as unknown as FlagSpec), file: f.file, loc: f.locOf([]) };
}

const flags = new Map<string, Promise<Flag>>();

/** A built-in flag name or a path to a flag spec file. */
export function loadFlag(token: string): Promise<Flag> {
  let file: string;
  if (/^[a-z0-9][a-z0-9.-]*$/.test(token) && existsSync(join(FLAG_DIR, `${token}.ts`)))
    file = join(FLAG_DIR, `${token}.ts`);
  else if (token.endsWith(".ts")) {
    file = resolvePath(token);
    if (!existsSync(file) || !statSync(file).isFile()) throw new InputError(`flag spec not found: ${token}`);
  } else
    throw new InputError(
      `unknown flag '${token}'${didYouMean(token, builtinNames(FLAG_DIR))} (built-in: ${builtinNames(FLAG_DIR).join(", ")}; or a path to a .ts file)`,
    );
  let p = flags.get(file);
  if (!p) flags.set(file, (p = loadSpecFile(file).then(toFlag)));
  return p;
}

export async function builtinFlags(): Promise<Flag[]> {
  return Promise.all(builtinNames(FLAG_DIR).map(loadFlag));
}

/** The flag macros that stand for the `slotFlag` input when no flag is named: every built-in flag's. */
export async function defaultFlagMacros(): Promise<string[]> {
  return (await builtinFlags()).map((f) => f.macro);
}
