// History stage: the semantic history of a function in a git repository — the commits after which its decision
// table changed, oldest first. A commit is extracted again only when it changes a path the extraction of its
// parent read (the function's file, the headers of its include closure, the helpers it inlined, the directories
// searched for it) and, in that path, the answer to something the extraction asked of it (kernel/answers: its
// #include lines, the definitions of a macro or function it used, a listing): a header edited elsewhere, or a
// function beside this one, carries the meaning over. The cost follows the commits that change what the
// function depends on, not the length of the history. Extractions are content-addressed (checker/cache): a
// warm run re-reads nothing it has seen.

import type { DiffGroup } from "../spec/compare.js";
import type { Env } from "../spec/evaluate.js";
import type { CLoc, Problem } from "../kernel/problems.js";
import { linked, sameAnswers } from "../kernel/answers.js";
import { changedPaths, gitDirOf, history, openCommit, type CommitInfo } from "../kernel/git.js";
import { RecordedPaths, type Uses } from "../kernel/tree.js";
import { extractionDiff } from "./diff.js";
import { DEFAULT_FUNCTION, extractWithDeps, type Extraction, type FunctionInfo } from "./extract.js";

export type LogChange = "changed" | "unverifiable" | "verifiable" | "unchanged";

export interface LogEntry {
  commit: string;
  subject: string;
  change: LogChange;
  /** The rows whose mask changed (changed), grouped by the masks before and after. */
  groups: DiffGroup<CLoc, CLoc>[];
  /** Why the function cannot be read after this commit (unverifiable, or unverifiable before it for verifiable). */
  problems: Problem[];
}

export interface LogReport {
  /** The function at the end of the walk (or where it was last found). */
  fn?: FunctionInfo;
  entries: LogEntry[];
  /** How many commits were walked, and how many of them were extracted (not carried over from a parent). */
  walked: number;
  extracted: number;
}

export interface LogOptions {
  function?: string;
  flagMacros: readonly string[];
  /** Only changes for these input values count (a conjunction). */
  when?: Env;
  /** List the commits that leave the meaning unchanged too. */
  all?: boolean;
  /** Told the step about to run, for a progress display (a long series, a long history). */
  progress?: (step: string) => void;
}

interface State {
  x: Extraction;
  deps: string[];
  /** What the extraction asked of each path (kernel/tree's Uses), when known. */
  uses?: Uses;
}

const NO_STATE: State = {
  x: {
    kind: "unverifiable",
    fn: { name: DEFAULT_FUNCTION, file: "", line: 0 },
    inputs: [],
    problems: [],
  },
  deps: [],
};

/** The semantic history of a function over a revision range of the repository `dir`. */
export function semanticLog(dir: string, range: readonly string[], o: LogOptions): LogReport {
  const gitDir = gitDirOf(dir);
  const fn = o.function ?? DEFAULT_FUNCTION;
  const commits = history(gitDir, range);
  const inRange = new Map(commits.map((c) => [c.commit, c]));
  const states = new Map<string, State>();
  let extracted = 0;
  const treeAt = (commit: string) =>
    openCommit(gitDir, commit, `${dir}@${commit.slice(0, 12)}`, inRange.get(commit)?.tree);

  const extractAt = (commit: string, hint?: string): State => {
    extracted++;
    const r = extractWithDeps(treeAt(commit), { function: fn, flagMacros: o.flagMacros, hint });
    return { x: r.value, deps: r.deps, uses: r.uses };
  };
  // What each commit changes against its first parent: one walk by git, whatever the number of extractions.
  const changed = changedPaths(gitDir, range);
  const depIndexes = new WeakMap<State, RecordedPaths>();
  const touches = (c: CommitInfo, s: State): boolean => {
    // A commit git did not list has unknown changes: it is read again, never assumed unchanged.
    const paths = changed.get(c.commit);
    if (paths === undefined) return true;
    // A path reached through a symlink depends on the link's target, which git names by its own path: any
    // change at all is read again.
    if (s.uses && linked(s.uses)) return paths.length > 0;
    let deps = depIndexes.get(s);
    if (!deps) depIndexes.set(s, (deps = new RecordedPaths(s.deps)));
    return deps.affectedBy(paths).size > 0;
  };
  // A commit that changes files the extraction read, but none of what it asked of them (another part of a
  // header, a function beside it): the meaning is carried over, as reading it again would find it.
  const carries = (c: CommitInfo, s: State): boolean => {
    const paths = changed.get(c.commit);
    if (s.x.kind !== "table" || !s.uses || !paths) return false;
    return sameAnswers(treeAt(c.parents[0]), treeAt(c.commit), s.uses, paths);
  };
  const stateOf = (commit: string | undefined): State => {
    if (commit === undefined) return NO_STATE;
    let s = states.get(commit);
    if (!s) {
      // A parent outside the range: the baseline the range starts from, extracted (not listed).
      s = extractAt(commit);
      states.set(commit, s);
    }
    return s;
  };

  const entries: LogEntry[] = [];
  for (const [i, c] of commits.entries()) {
    o.progress?.(`${i + 1}/${commits.length} ${c.commit.slice(0, 12)} ${c.subject}`);
    const before = stateOf(c.parents[0]);
    const hint = before.x.kind === "table" ? before.x.fn.file : undefined;
    const after =
      c.parents.length === 0 || (touches(c, before) && !carries(c, before))
        ? extractAt(c.commit, hint)
        : before;
    states.set(c.commit, after);
    // A merge changes the meaning only where it differs from every parent (a change made in the merge itself);
    // what a side branch brought was listed at the side branch's own commits.
    const others = c.parents
      .slice(1)
      .filter((p) => inRange.has(p))
      .map((p) => stateOf(p));
    const entry = compare(c, before, after, o);
    if (entry && others.some((p) => compare(c, p, after, o) === undefined)) continue;
    if (entry) entries.push(entry);
    else if (o.all)
      entries.push({ commit: c.commit, subject: c.subject, change: "unchanged", groups: [], problems: [] });
  }
  const last = commits.length ? states.get(commits[commits.length - 1].commit) : undefined;
  const lastFound = [...states.values()].reverse().find((s) => s.x.kind === "table");
  return {
    fn: last?.x.kind === "table" ? last.x.fn : (lastFound?.x.fn ?? undefined),
    entries,
    walked: commits.length,
    extracted,
  };
}

/**
 * One commit's change of meaning, or undefined when there is none for the inputs asked about. Between two
 * unverifiable states the meaning is not known: --all shows such a commit as unverifiable, never unchanged.
 */
function compare(c: CommitInfo, before: State, after: State, o: LogOptions): LogEntry | undefined {
  const base = { commit: c.commit, subject: c.subject };
  if (before === after) return undefined;
  const [a, b] = [before.x, after.x];
  if (a.kind === "unverifiable" && b.kind === "unverifiable")
    return o.all ? { ...base, change: "unverifiable", groups: [], problems: b.problems } : undefined;
  if (b.kind === "unverifiable") return { ...base, change: "unverifiable", groups: [], problems: b.problems };
  if (a.kind === "unverifiable") return { ...base, change: "verifiable", groups: [], problems: a.problems };
  const m = extractionDiff(a, b, { groupBy: "mask", when: o.when });
  if (m.kind !== "changed") return undefined;
  return { ...base, change: "changed", groups: m.groups, problems: [] };
}
