// Command stage: SARIF 2.1.0 output, so that CI systems (GitHub code scanning and others) show kspec's findings
// on the kernel lines they concern.

import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import type { Verdict } from "../checker/check.js";
import { FINDING_KINDS } from "../checker/plumbing.js";
import { ruleLabel, type Policy } from "../spec/ir.js";
import { formatCube } from "../spec/cubes.js";
import { describeMask } from "../spec/memtypes.js";
import { problemText } from "../kernel/problems.js";
import { VERSION } from "./version.js";

export interface SarifResult {
  ruleId: string;
  level: "error" | "warning" | "note";
  message: string;
  /** Tree-relative file and 1-based line, or a file outside the tree (a policy file) by path. */
  file?: string;
  line?: number;
  base?: "KERNEL" | "SRCROOT";
}

export const SARIF_RULES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(FINDING_KINDS).map(([id, k]) => [`kspec/${id}`, k.about])),
  "kspec/differs": "The C function computes a different EPT memory type than the policy",
  "kspec/unverifiable": "kspec cannot model a construct of the C function; no verdict",
  "kspec/not-bisectable":
    "A patch of the series leaves the memslot-flag plumbing or the get_mt_mask signature inconsistent",
  "kspec/apply-failed": "A patch does not apply to the tree",
  "kspec/meaning-changed": "A patch changes the decision table of the function",
  "kspec/plumbing": "The memslot-flag plumbing is incomplete at the end of the series",
  "kspec/error": "A pair of the sync config could not be checked (a missing tree, an unknown policy...)",
};

/** One SARIF run: the results whose locations are relative to one kernel tree (the KERNEL base URI). */
export interface SarifRun {
  kernel?: string;
  results: readonly SarifResult[];
}

/**
 * A SARIF log with one run per kernel tree, so that every location resolves against the tree it is in (a run
 * has one KERNEL base URI).
 */
export function sarifLog(runs: readonly SarifRun[]) {
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: runs.map((run) => {
      const used = [...new Set(run.results.map((r) => r.ruleId))].sort();
      return {
        tool: {
          driver: {
            name: "kspec",
            version: VERSION,
            informationUri: "https://github.com/kspec/kspec",
            rules: used.map((id) => ({ id, shortDescription: { text: SARIF_RULES[id] ?? id } })),
          },
        },
        ...(run.kernel
          ? { originalUriBaseIds: { KERNEL: { uri: pathToFileURL(resolve(run.kernel)).href + "/" } } }
          : {}),
        results: run.results.map((r) => ({
          ruleId: r.ruleId,
          ruleIndex: used.indexOf(r.ruleId),
          level: r.level,
          message: { text: r.message },
          ...(r.file
            ? {
                locations: [
                  {
                    physicalLocation: {
                      artifactLocation: { uri: r.file, ...(r.base ? { uriBaseId: r.base } : {}) },
                      ...(r.line && r.line > 0 ? { region: { startLine: r.line } } : {}),
                    },
                  },
                ],
              }
            : {}),
        })),
      };
    }),
  };
}

export function verdictResults(v: Verdict, policy: Policy): SarifResult[] {
  if (v.verdict === "equal") return [];
  if (v.verdict === "unverifiable") {
    return v.problems.map((p) => ({
      ruleId: "kspec/unverifiable",
      level: "error",
      message: problemText(p),
      file: p.file,
      line: p.line,
      base: "KERNEL",
    }));
  }
  return v.groups.flatMap((g) =>
    g.when.map((c) => ({
      ruleId: "kspec/differs",
      level: "error" as const,
      message: `when ${formatCube(c)}: ${v.fn.name}() gives ${describeMask(g.a.mask)}, policy ${policy.name} ${ruleLabel(g.b.origin.rule)} gives ${describeMask(g.b.mask)}`,
      file: g.a.origin.file,
      line: g.a.origin.line,
      base: "KERNEL" as const,
    })),
  );
}

/** Verdicts grouped into one run per kernel tree, in the order the trees first appear. */
export function sarifForVerdicts(items: readonly { verdict: Verdict; policy: Policy; kernel: string }[]) {
  const runs = new Map<string, SarifResult[]>();
  for (const i of items) {
    const k = resolve(i.kernel);
    runs.set(k, [...(runs.get(k) ?? []), ...verdictResults(i.verdict, i.policy)]);
  }
  return sarifLog([...runs].map(([kernel, results]) => ({ kernel, results })));
}
