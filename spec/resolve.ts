// Load stage (expressions): policy expressions — a built-in name, a path to a .ts policy file, or BASE+PROPOSAL[+...] —
// resolved to a validated, composed policy.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve as resolvePath } from "node:path";
import { ROOT, POLICY_DIR, FLAG_DIR } from "./root.js";
import type { Policy, Proposal } from "./ir.js";
import { InputError } from "./errors.js";
import { loadSpecFile } from "./load.js";
import { activeConfig } from "./config.js";
import { didYouMean } from "./suggest.js";
import { compose, toPolicy, toProposal } from "./validate.js";

export { ROOT, POLICY_DIR, FLAG_DIR };

export function builtinNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

export type Part = { kind: "policy"; policy: Policy } | { kind: "proposal"; proposal: Proposal };

const parts = new Map<string, Promise<Part>>();

/** A built-in name or a path to a policy/proposal file, loaded once per process. */
export async function loadPart(token: string): Promise<Part> {
  let file: string;
  // A name: the config's policy directories first, then the built-ins.
  const named = /^[a-z0-9][a-z0-9.-]*$/.test(token)
    ? [...activeConfig().policies, POLICY_DIR].map((d) => join(d, `${token}.ts`)).find((f) => existsSync(f))
    : undefined;
  if (named) {
    file = named;
  } else if (token.endsWith(".ts")) {
    file = resolvePath(token);
    if (!existsSync(file) || !statSync(file).isFile())
      throw new InputError(`policy file not found: ${token}`);
  } else {
    // A file of the config's directories whose `name:` is the token (a file named otherwise).
    const other = await byNameField(token);
    if (!other) {
      const known = [
        ...new Set([...activeConfig().policies.flatMap(builtinNames), ...builtinNames(POLICY_DIR)]),
      ];
      throw new InputError(
        `unknown policy '${token}'${didYouMean(token, known)} (known: ${known.join(", ")}; or a path to a .ts file)`,
      );
    }
    file = other;
  }
  let p = parts.get(file);
  if (!p) {
    p = loadSpecFile(file).then((f) =>
      f.kind === "policy"
        ? { kind: "policy", policy: toPolicy(f) }
        : { kind: "proposal", proposal: toProposal(f) },
    );
    parts.set(file, p);
  }
  return p;
}

/** The file of the config's policies directories whose policy or proposal has `name: token`, if one has. */
async function byNameField(token: string): Promise<string | undefined> {
  for (const dir of activeConfig().policies)
    for (const n of builtinNames(dir)) {
      const f = join(dir, `${n}.ts`);
      try {
        const v = (await loadSpecFile(f)).value;
        if (typeof v === "object" && v !== null && !Array.isArray(v) && v.name === token) return f;
      } catch {
        // A file that does not load is reported when it is asked for by its own name.
      }
    }
  return undefined;
}

export function splitExpression(expr: string): string[] {
  if (expr.endsWith(".ts") && existsSync(expr)) return [expr];
  const tokens = expr.split("+").map((t) => t.trim());
  if (tokens.some((t) => t === ""))
    throw new InputError(`bad policy expression '${expr}' (BASE or BASE+PROPOSAL)`);
  return tokens;
}

/**
 * Resolves a policy expression. `base` supplies the policy a bare proposal applies to (in `gen` and
 * `verify-patch`: what the kernel tree does today); without it, a bare proposal is an error.
 */
export async function resolvePolicy(expr: string, base?: () => Promise<Policy>): Promise<Policy> {
  const tokens = splitExpression(expr);
  const loaded = await Promise.all(tokens.map(loadPart));
  let policy: Policy;
  let rest: Part[];
  if (loaded[0].kind === "policy") {
    policy = loaded[0].policy;
    rest = loaded.slice(1);
  } else if (base) {
    policy = await base();
    rest = loaded;
  } else {
    throw new InputError(
      `'${tokens[0]}' is a proposal, not a policy: apply it to a base, e.g. linux-6.12+${tokens[0]}`,
    );
  }
  for (const [i, part] of rest.entries()) {
    if (part.kind !== "proposal") {
      throw new InputError(
        `'${tokens[tokens.length - rest.length + i]}' is a policy; only proposals can follow '+'`,
      );
    }
    policy = compose(policy, part.proposal);
  }
  return policy;
}
