// Validate stage (its output): the policy IR — validated, ordered, every rule with its source location.

/** A value an input can take: true or false, or an enumeration's name (a memory type). */
export type InputValue = boolean | string;

export interface Loc {
  file: string;
  line: number;
  col: number;
}

/** A rule's name as tables show it; the default has none. */
export function ruleLabel(r: { name: string } | null): string {
  return r ? r.name : "default";
}

export function formatLoc(loc: Loc | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}` : "";
}

/** One literal of a conjunction: `input` has one of `values`. */
export interface Cond {
  input: string;
  values: readonly InputValue[];
}

export type TypeSource =
  | { kind: "const"; code: number }
  /** The value of a memory-type input, through `map` (input value -> code). */
  | { kind: "input"; input: string; map: Readonly<Record<string, number>> };

export interface Outcome {
  type: TypeSource;
  ipat: boolean;
  why?: string;
}

export interface Rule {
  name: string;
  when: readonly Cond[];
  then: Outcome;
  overrides: readonly string[] | "*";
  why?: string;
  loc: Loc;
  /** The policy or proposal that contributed the rule (for BASE+PROPOSAL). */
  origin: string;
  /**
   * Placed by a proposal at an anchor of the base: the base's earlier rules win over it where both match, by the
   * proposal's choice of position, so such overlaps are not reported.
   */
  inserted?: boolean;
}

export interface Policy {
  name: string;
  source: string;
  summary?: string;
  file?: string;
  rules: readonly Rule[];
  default: Outcome & { loc: Loc; origin: string };
  /** The proposal flag spec, when the policy came from BASE+PROPOSAL. */
  flag?: string;
}

export interface Insert {
  anchor: "after" | "before";
  ref: string;
  refLoc: Loc;
  rules: readonly Rule[];
}

export interface Proposal {
  name: string;
  source: string;
  summary?: string;
  file?: string;
  flag?: string;
  inserts: readonly Insert[];
}
