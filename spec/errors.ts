// Report stage (spec problems): typed errors. Validation collects every problem before failing; each has a stable kind.

import { formatLoc, type Loc } from "./ir.js";

/**
 * Every way a policy, proposal or flag spec file can be wrong, with a stable id (tests and tools match on it) and
 * what it means. A test proves that every kind has a fixture under test/fixtures/spec/fail that produces it.
 */
export const SPEC_PROBLEM_KINDS = {
  unreadable: "the file cannot be read",
  "too-large": "the file is over the size limit for a policy file",
  syntax: "the file is not valid TypeScript",
  "no-default-export":
    "no `export default definePolicy({...})`, `defineProposal({...})` or `defineFlag({...})`",
  "not-literal": "a value is computed, not written: policy files are data, never executed",
  "duplicate-key": "an object names the same key twice",
  "bad-shape": "a value of the wrong shape (a string where a list is needed...)",
  "unknown-key": "a key the format does not have (a typo, usually)",
  "unsafe-text": "prose that would end a generated C comment or commit message, or hide in a terminal",
  "unknown-input": "a condition on an input the vocabulary does not have",
  "bad-value": "an input compared with a value outside its domain",
  "bad-type": "something that is not a memory type where one is needed",
  "reserved-type": "a reserved memory-type code (2, 3): an EPT misconfiguration",
  "pat-only-type": "UC- (7), which only PAT can hold, as an EPT memory type",
  "missing-default": "a policy without a default: some input would get no memory type",
  "duplicate-rule": "two rules with the same name",
  "unknown-rule": "`overrides` names a rule the policy does not have",
  "unreachable-rule": "a rule that can never fire: earlier rules cover every case where it matches",
  "overlapping-rules": "two rules that both match somewhere, with different results, and no `overrides`",
  "unknown-anchor": "a proposal inserts next to a rule its base policy does not have",
} as const;

export type SpecProblemKind = keyof typeof SPEC_PROBLEM_KINDS;

export interface SpecProblem {
  /** Stable id, e.g. `unreachable-rule`, `pat-only-type`: tests and tools match on it. */
  kind: SpecProblemKind;
  loc?: Loc;
  message: string;
}

export function formatProblem(p: SpecProblem): string {
  return `${p.loc ? formatLoc(p.loc) + ": " : ""}${p.message} [${p.kind}]`;
}

/** A policy or proposal that cannot be used. Exit code 2. */
export class SpecError extends Error {
  constructor(readonly problems: readonly SpecProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "SpecError";
  }
}

/** Bad input to a command (an argument, a tree, a patch): one line, exit code 2, nothing written. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}
