// Command stage (JSON shapes): the shapes of every --json output. The commands build their documents as these types, so
// the compiler holds them to it, and docs/schemas/ is generated from them (npm run docs): tools that read kspec's
// JSON can validate it against the schemas.

import { decodeMask } from "../spec/memtypes.js";
import type { Finding, FlagStatus } from "../checker/plumbing.js";
import type { HunkNote } from "../kernel/patchset.js";
import type { Problem } from "../kernel/problems.js";
import type { InputValue } from "../spec/ir.js";

/** A set of input assignments, as a condition: each input with its value, or the values it may take. */
export type Condition = Record<string, InputValue | InputValue[]>;

/** One full assignment of the inputs a table reads. */
export type Assignment = Record<string, InputValue>;

/** A function of a kernel tree: where its definition starts (an empty file when it was not found). */
export interface FunctionRef {
  name: string;
  file: string;
  line: number;
}

/** An EPT mask, and the memory type and IPAT bit it holds. */
export interface MaskJson {
  mask: number;
  type: string;
  ipat: boolean;
  /** Bits set outside the memory-type field and IPAT (a moved or misused bit), when there are any. */
  stray?: number;
}

/** A mask as JSON: what `type` and `ipat` cannot say is in `stray`, so no bit of the mask is lost. */
export function maskJson(m: number): MaskJson {
  const d = decodeMask(m);
  return { mask: m, type: d.type, ipat: d.ipat, ...(d.stray ? { stray: d.stray } : {}) };
}

/** `kspec check --json` (and each pair of `kspec sync --json`, and the end state of `verify-patch --json`). */
export interface CheckJson {
  verdict: "equal" | "differs" | "unverifiable";
  function: FunctionRef;
  policy: string;
  inputs: string[];
  combinations?: number;
  differing?: number;
  groups?: {
    when: Condition[];
    c: { mask: number; file: string; line: number };
    spec: { mask: number; rule: string };
  }[];
  counterexamples: {
    inputs: Assignment;
    c: MaskJson & { file: string; line: number };
    spec: MaskJson & { rule: string; file: string; line: number };
  }[];
  /** More counterexamples exist than are listed. */
  truncated?: boolean;
  problems: Problem[];
  /** What a reader should know beside the verdict (a quirk: or cpu: input the tree does not define). */
  notes?: string[];
}

/** `kspec extract --json`. */
export interface ExtractJson {
  function: FunctionRef;
  inputs: string[];
  rows: (MaskJson & { inputs: Assignment; line: number })[];
  paths: { when: Condition; mask: number; line: number }[];
  problems: Problem[];
}

/** `kspec diff --json`. */
export type DiffJson =
  | { verdict: "unverifiable"; tree: string; problems: Problem[] }
  | {
      verdict: "unchanged" | "changed";
      function: string;
      a: { kernel: string; function: FunctionRef; inputs: string[] };
      b: { kernel: string; function: FunctionRef; inputs: string[] };
      onlyA: string[];
      onlyB: string[];
      changes: { when: Condition[]; a: number; b: number }[];
    };

/** `kspec log --json`. */
export interface LogJson {
  function: { name: string; file: string | null };
  commits: {
    commit: string;
    subject: string;
    change: "changed" | "unverifiable" | "verifiable" | "unchanged";
    changes: { when: Condition; before: MaskJson; after: MaskJson }[];
    problems: Problem[];
  }[];
}

/** `kspec verify-patch --json`. */
export interface VerifyJson {
  verdict: CheckJson["verdict"];
  bisectable: boolean;
  complete: boolean;
  counts: { error: number; warning: number; note: number };
  patches: {
    index: number;
    source: string;
    subject: string;
    version: number;
    files: string[];
    hunks: HunkNote[];
    meaning: {
      kind: "unchanged" | "changed" | "unverifiable";
      changes: {
        when: Condition[];
        before: { mask: number; file: string; line: number };
        after: { mask: number; file: string; line: number };
      }[];
      problems: Problem[];
    };
    plumbing: { flags: FlagStatus[]; capabilities: string[]; problems: Finding[] };
    warnings: Finding[];
    bisectable: boolean;
    extractable: boolean;
  }[];
  findings: Finding[];
  final: CheckJson;
}

/** `kspec sync --json`. */
export interface SyncJson {
  summary: { pairs: number; equal: number; differs: number; unverifiable: number; error: number };
  results: (
    | { index: number; kernel: string; policy: string; verdict: "error"; message: string }
    | (CheckJson & { index: number; kernel: string })
  )[];
}

/** `kspec list --json`. */
export interface ListJson {
  items: {
    kind: "policy" | "proposal" | "flag";
    name: string;
    summary: string;
    /** For a policy or proposal of the config's policies directories: its file. */
    file?: string;
  }[];
}

/** A row of a policy's truth table. */
export interface PolicyRowJson extends MaskJson {
  inputs: Assignment;
  rule: string;
}

/** `kspec eval --json`. */
export interface EvalJson {
  policy: string;
  inputs: string[];
  rows: PolicyRowJson[];
}

/** `kspec explain --json`. */
export interface ExplainJson {
  policy: string;
  inputs: string[];
  scenarios: { when: Condition; mask: number; rule: string; effective: Record<string, string> }[];
  hazards: { id: string; domain: number; title: string; when: Condition[] }[];
}

/** `kspec explain --vs Q --json`: each difference names the two policies' outcomes by their names. */
export interface ExplainVsJson {
  policy: string;
  vs: string;
  equal: boolean;
  inputs: string[];
  differences: ({ when: Condition[] } & Record<string, Condition[] | { mask: number; rule: string }>)[];
}
