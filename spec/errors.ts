// Model stage: typed errors. Validation collects every problem before failing; each has a stable kind.

import { formatLoc, type Loc } from "./ir.js";

export interface SpecProblem {
  /** Stable id, e.g. `unreachable-rule`, `pat-only-type`: tests and tools match on it. */
  kind: string;
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
