// Report stage: the catalogue of what can stop kspec from reading a kernel function — each kind with a stable id
// and what it means. The interpreter, the macro evaluator and tree access report these, located in the C; a
// test proves that every kind has a fixture that produces it.

export interface CLoc {
  file: string;
  line: number;
}

export const PROBLEM_KINDS = {
  "parse-error": "tree-sitter cannot parse the function, or a helper it inlines, at this place",
  "not-located": "the function is not defined in the tree, or is defined more than once",
  "unmodeled-construct":
    "a statement or expression form kspec does not model (a loop, a switch, a pointer...)",
  "unmodeled-type": "a type kspec does not model",
  "unmodeled-value": "a value kspec cannot compute from the inputs (opaque state, a negative comparison...)",
  "unmodeled-call": "a call that is neither a vocabulary input nor a static function or macro of the tree",
  "undefined-identifier": "a name that is not a local, a parameter or a macro defined in the tree",
  "ambiguous-macro": "a macro with live definitions that disagree: its value depends on the configuration",
  "ambiguous-flag": "the function tests two memslot flags, and slotFlag can stand for one",
  uninitialized: "a local read before it is assigned",
  "no-return": "control reaches the end of a function that returns a value",
  "no-value": "a return without a value in a function that returns one",
  "too-many-steps": "the step budget of one run is exhausted (a guard against pathological input)",
  recursion: "static helpers nest deeper than kspec follows",
  "symlink-outside-tree":
    "a file the function needs lies behind a symlink that leaves the kernel tree: not read",
  "file-too-large": "a file the function needs is over the size limit for a kernel source file: not read",
} as const;

export type ProblemKind = keyof typeof PROBLEM_KINDS;

/** Why a function (or one path through it) has no verdict: what, which name, where. */
export interface Problem extends CLoc {
  kind: ProblemKind;
  name: string;
  message: string;
}

/** Thrown by a run that meets a problem; extraction collects them per path. */
export class Unverifiable {
  constructor(readonly problem: Problem) {}
}

export function problemText(p: Problem): string {
  return `${p.file ? `${p.file}:${p.line}: ` : ""}${p.message} [${p.kind}: ${p.name}]`;
}
