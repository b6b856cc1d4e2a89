// Command stage: `kspec sync` — the CI check of a repository's policy files against kernel trees: every pair of
// (tree, function, policy) in a small JSON config, one line each and a summary.

import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { checkTree, type Verdict } from "../../checker/check.js";
import { slotFlagMacros } from "../../checker/binding.js";
import { openTree } from "../kernel.js";
import { formatProblem, InputError, SpecError } from "../../spec/errors.js";
import { readBounded } from "../../spec/files.js";
import type { Policy } from "../../spec/ir.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { str, type Command } from "../command.js";
import { json } from "../io.js";
import { sarifLog, verdictResults, type SarifResult } from "../sarif.js";
import { verdictJson } from "../verdict-view.js";

export const SYNC_CONFIG = "kspec.sync.json";

export interface SyncPair {
  kernel: string;
  policy: string;
  function?: string;
  flag?: string;
}

/** The config: { "pairs": [ { "kernel", "policy", "function"?, "flag"? } ] }; ${VAR} in paths from the environment. */
export function readConfig(file: string): SyncPair[] {
  if (!existsSync(file))
    throw new InputError(`${file}: no such config (see kspec sync --help for its format)`);
  const text = readBounded(file, 1 << 20).toString("utf8");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const pos = /position (\d+)/.exec((e as Error).message);
    const at = pos ? text.slice(0, Number(pos[1])).split("\n") : undefined;
    throw new InputError(
      `${file}${at ? `:${at.length}:${at[at.length - 1].length + 1}` : ""}: not JSON: ${(e as Error).message}`,
    );
  }
  const pairs = (data as { pairs?: unknown })?.pairs;
  if (!Array.isArray(pairs) || pairs.length === 0)
    throw new InputError(`${file}: needs "pairs": a non-empty list`);
  const base = dirname(resolve(file));
  return pairs.map((p, i) => {
    const o = p as Record<string, unknown>;
    for (const k of Object.keys(o ?? {})) {
      if (!["kernel", "policy", "function", "flag"].includes(k))
        throw new InputError(`${file}: pairs[${i}]: unknown key '${k}'`);
    }
    for (const k of ["kernel", "policy"]) {
      if (typeof o?.[k] !== "string" || o[k] === "")
        throw new InputError(`${file}: pairs[${i}]: '${k}' must be a non-empty string`);
    }
    const expand = (s: string, k: string) =>
      s.replace(/\$\{(\w+)\}/g, (_, v: string) => {
        const val = process.env[v];
        if (val === undefined)
          throw new InputError(`${file}: pairs[${i}].${k}: environment variable ${v} is not set`);
        return val;
      });
    const policy = expand(o.policy as string, "policy");
    return {
      kernel: resolve(base, expand(o.kernel as string, "kernel")),
      policy: policy.endsWith(".ts") ? resolve(base, policy) : policy,
      function: typeof o.function === "string" ? o.function : undefined,
      flag: typeof o.flag === "string" ? o.flag : undefined,
    };
  });
}

/** One pair's outcome: a verdict, or the one-line reason it could not be checked. */
type PairResult =
  | { index: number; pair: SyncPair; kind: "verdict"; verdict: Verdict; policy: Policy }
  | { index: number; pair: SyncPair; kind: "error"; message: string };

async function checkPair(pair: SyncPair, index: number): Promise<PairResult> {
  try {
    const tree = openTree(pair.kernel);
    const flagMacros = await slotFlagMacros({ flag: pair.flag });
    const policy = await resolvePolicy(pair.policy);
    return {
      index,
      pair,
      kind: "verdict",
      verdict: checkTree(tree, policy, { function: pair.function, flagMacros }),
      policy,
    };
  } catch (e) {
    // A bad pair is that pair's result; the other pairs are still checked.
    if (e instanceof SpecError)
      return { index, pair, kind: "error", message: e.problems.map(formatProblem).join("; ") };
    if (e instanceof InputError) return { index, pair, kind: "error", message: e.message };
    throw e;
  }
}

function outcome(r: PairResult): string {
  return r.kind === "error" ? "error" : r.verdict.verdict;
}

export const sync: Command = {
  name: "sync",
  summary:
    "check every (kernel tree, function, policy) pair of a config: one line each, exit non-zero on any difference",
  usage: "kspec sync [--config FILE] [--json|--sarif]",
  details: `FILE (default ./${SYNC_CONFIG}) is JSON:
  { "pairs": [ { "kernel": "path/to/linux", "policy": "spec/policies/mine.ts", "function": "vmx_get_mt_mask", "flag": "non-coherent-dma" } ] }
"function" and "flag" are optional; relative paths are relative to the config file; \${VAR} is taken from the
environment (e.g. "kernel": "\${KERNEL_TREE}").
Every pair gets one line (one JSON entry, one SARIF run per kernel tree): its verdict, or "error" with the pair's
index and the reason (a missing tree, an unknown policy); the other pairs are still checked.
Exit: the worst over the pairs: 0 all equal, 1 any differs, 2 any unverifiable or error.`,
  options: { config: { type: "string" }, json: { type: "boolean" }, sarif: { type: "boolean" } },
  async run({ values }, io) {
    if (values.json && values.sarif) throw new InputError("--json and --sarif exclude each other");
    const file = str(values, "config") ?? SYNC_CONFIG;
    const pairs = readConfig(file);
    const results: PairResult[] = [];
    for (const [i, pair] of pairs.entries()) results.push(await checkPair(pair, i));
    const count = (v: string) => results.filter((r) => outcome(r) === v).length;
    const summary = {
      pairs: results.length,
      equal: count("equal"),
      differs: count("differs"),
      unverifiable: count("unverifiable"),
      error: count("error"),
    };
    if (values.json)
      io.out(
        json({
          summary,
          results: results.map((r) =>
            r.kind === "error"
              ? {
                  index: r.index,
                  kernel: r.pair.kernel,
                  policy: r.pair.policy,
                  verdict: "error",
                  message: r.message,
                }
              : { index: r.index, kernel: r.pair.kernel, ...verdictJson(r.verdict, r.policy) },
          ),
        }),
      );
    else if (values.sarif) {
      const runs = new Map<string, SarifResult[]>();
      for (const r of results) {
        const list = runs.get(r.pair.kernel) ?? [];
        if (r.kind === "error")
          list.push({
            ruleId: "kspec/error",
            level: "error",
            message: `pairs[${r.index}] (${r.pair.policy}): ${r.message}`,
          });
        else list.push(...verdictResults(r.verdict, r.policy));
        runs.set(r.pair.kernel, list);
      }
      io.out(json(sarifLog([...runs].map(([kernel, results]) => ({ kernel, results })))));
    } else {
      for (const r of results) {
        if (r.kind === "error") {
          io.out(
            `${"error".padEnd(12)} pairs[${r.index}] ${r.pair.policy}  ${r.pair.kernel}: ${r.message}\n`,
          );
          continue;
        }
        const v = r.verdict;
        const extra =
          v.verdict === "differs"
            ? ` (${v.differing} of ${v.combinations} combinations)`
            : v.verdict === "unverifiable"
              ? ` (${v.problems[0].file}:${v.problems[0].line}: ${v.problems[0].message})`
              : "";
        io.out(`${v.verdict.padEnd(12)} ${r.policy.name}  ${v.fn.name}()  ${r.pair.kernel}${extra}\n`);
      }
      io.out(
        `${summary.pairs} pairs: ${summary.equal} equal, ${summary.differs} differ${summary.differs === 1 ? "s" : ""}, ${summary.unverifiable} unverifiable${summary.error ? `, ${summary.error} error${summary.error === 1 ? "" : "s"}` : ""}\n`,
      );
    }
    return summary.unverifiable || summary.error ? 2 : summary.differs ? 1 : 0;
  },
};
