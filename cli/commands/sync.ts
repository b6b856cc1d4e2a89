// Command stage: `kspec sync` — the CI check of a repository's policy files against kernel trees: every pair of
// (tree, function, policy) in a small JSON config, one line each and a summary.

import { existsSync } from "node:fs";
import { checkTree, type Verdict } from "../../checker/check.js";
import { slotFlagMacros } from "../../checker/binding.js";
import { openTree } from "../kernel.js";
import { formatProblem, InputError, SpecError } from "../../spec/errors.js";
import {
  activeConfig,
  CONFIG_FILE,
  LEGACY_SYNC_CONFIG,
  loadConfig,
  type SyncPair,
} from "../../spec/config.js";
import type { Policy } from "../../spec/ir.js";
import { resolvePolicy } from "../../spec/resolve.js";
import { type Command } from "../command.js";
import { json, paintWord } from "../io.js";
import { sarifLog, verdictResults, type SarifResult } from "../sarif.js";
import { verdictJson } from "../verdict-view.js";

/**
 * The pairs to check: those of the config in use (kspec.config.json, or --config FILE), else of the old
 * kspec.sync.json in the current directory.
 */
async function configPairs(): Promise<{ file: string; pairs: SyncPair[] }> {
  let config = activeConfig();
  if (!config.file) {
    if (!existsSync(LEGACY_SYNC_CONFIG))
      throw new InputError(
        `${CONFIG_FILE} or ${LEGACY_SYNC_CONFIG}: no such config (see kspec sync --help for its format)`,
      );
    config = loadConfig(LEGACY_SYNC_CONFIG, (await import("../../spec/vocabulary.js")).isBuiltinInput);
  }
  if (!config.pairs.length) throw new InputError(`${config.file}: no "pairs" to check`);
  return { file: config.file!, pairs: config.pairs };
}

/** One pair's outcome: a verdict, or the one-line reason it could not be checked. */
type PairResult =
  | { index: number; pair: SyncPair; kind: "verdict"; verdict: Verdict; policy: Policy }
  | { index: number; pair: SyncPair; kind: "error"; message: string };

async function checkPair(pair: SyncPair, index: number): Promise<PairResult> {
  if (pair.error) return { index, pair, kind: "error", message: pair.error };
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
  details: `The pairs are those of kspec.config.json (found from the current directory upwards, or --config FILE), or of
the old ./${LEGACY_SYNC_CONFIG}:
  { "pairs": [ { "kernel": "path/to/linux", "policy": "spec/policies/mine.ts", "function": "vmx_get_mt_mask", "flag": "non-coherent-dma" } ] }
"function" and "flag" are optional; relative paths are relative to the config file; \${VAR} is taken from the
environment (e.g. "kernel": "\${KERNEL_TREE}").
Every pair gets one line (one JSON entry, one SARIF run per kernel tree): its verdict, or "error" with the pair's
index and the reason (a missing tree, an unknown policy); the other pairs are still checked.
Exit: the worst over the pairs: 0 all equal, 1 any differs, 2 any unverifiable or error.`,
  options: { json: { type: "boolean" }, sarif: { type: "boolean" } },
  async run({ values }, io) {
    if (values.json && values.sarif) throw new InputError("--json and --sarif exclude each other");
    const { pairs } = await configPairs();
    const results: PairResult[] = [];
    for (const [i, pair] of pairs.entries()) {
      io.progress(`pair ${i + 1}/${pairs.length}: ${pair.policy} on ${pair.kernel}`);
      results.push(await checkPair(pair, i));
    }
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
            `${paintWord(io, "error", "error".padEnd(12))} pairs[${r.index}] ${r.pair.policy}  ${r.pair.kernel}: ${r.message}\n`,
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
        io.out(
          `${paintWord(io, v.verdict, v.verdict.padEnd(12))} ${r.policy.name}  ${v.fn.name}()  ${r.pair.kernel}${extra}\n`,
        );
      }
      io.out(
        `${summary.pairs} pairs: ${summary.equal} equal, ${summary.differs} differ${summary.differs === 1 ? "s" : ""}, ${summary.unverifiable} unverifiable${summary.error ? `, ${summary.error} error${summary.error === 1 ? "" : "s"}` : ""}\n`,
      );
    }
    return summary.unverifiable || summary.error ? 2 : summary.differs ? 1 : 0;
  },
};
