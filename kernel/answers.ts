// Read stage: the answers a tree gives to the questions an extraction asked of its files (kernel/tree's Uses).
// Two trees that give every question the same answer give the extraction the same result, whatever else in
// their files differs: a commit that only touches other parts of the headers the function reads changes
// nothing kspec log needs to read again.

import { mayDefine, quickIncludes, scanDirectives } from "./cpp.js";
import { definitionsIn } from "./locate.js";
import { Q, type KernelTree, type Uses } from "./tree.js";

/** A tree's answer to one question about one path, as a string to compare. */
export function answer(tree: KernelTree, path: string, question: string): string {
  if (question === Q.content) return tree.signature(path);
  if (question === Q.closure) {
    // Read first: a file over the size limit becomes too-large when read.
    const b = tree.bytes(path);
    // What the path is, not which object (a git source's entry carries the blob's id).
    const e = tree.entry(path);
    const what =
      e.kind === "outside" ? [e.kind, e.target, e.via] : e.kind === "too-large" ? [e.kind, e.size] : [e.kind];
    return JSON.stringify([what, b ? quickIncludes(b).map((i) => [i.path, i.quoted]) : null]);
  }
  if (question === Q.list) {
    const l = tree.listing(path, () => true);
    return JSON.stringify([l.files, l.blocked]);
  }
  const colon = question.indexOf(":");
  const [kind, name] = [question.slice(0, colon), question.slice(colon + 1)];
  if (question === Q.defines(name)) {
    const b = tree.bytes(path);
    if (!b || !mayDefine(b, name)) return "[]";
    return JSON.stringify(scanDirectives(tree.read(path)!, path).defines.filter((d) => d.name === name));
  }
  if (question === Q.fn(name)) {
    const text = tree.read(path);
    const defs = text ? definitionsIn(text, name) : [];
    // Where the definition starts and its text fix every location and node the extraction took from it.
    return JSON.stringify(defs.map((d) => [d.line, d.node.startPosition.column, d.node.text]));
  }
  // A question this module does not know (Q.link among them) has no answer to compare: never the same.
  throw new UnknownQuestion(`${kind}: ${question}`);
}

class UnknownQuestion extends Error {}

/**
 * Does `after` answer, for every path the commit changed (`changed`: paths, from git), each question an
 * extraction asked of `before`? A path counts as changed when it, or a directory on the way to it, is in
 * `changed` (a directory replaced by a file or a link); a listing when anything under it is.
 */
export function sameAnswers(
  before: KernelTree,
  after: KernelTree,
  uses: Uses,
  changed: readonly string[],
): boolean {
  const index = indexOf(uses);
  if (index.linked) return false;
  for (const p of affected(index, changed)) {
    // Reached through a link in either tree: what the path depends on is not what git lists (Q.link).
    const path = p.endsWith("/") ? p.slice(0, -1) : p;
    if (path !== "" && (before.reachedThroughLink(path) || after.reachedThroughLink(path))) return false;
    for (const q of uses.get(p)!) {
      try {
        if (answer(before, p, q) !== answer(after, p, q)) return false;
      } catch (e) {
        if (e instanceof UnknownQuestion) return false;
        throw e;
      }
    }
  }
  return true;
}

/** The paths of a record, sorted (those under a directory are a range), and whether any was reached by a link. */
interface UsesIndex {
  sorted: string[];
  uses: Uses;
  linked: boolean;
}

const indexes = new WeakMap<Uses, UsesIndex>();

function indexOf(uses: Uses): UsesIndex {
  let ix = indexes.get(uses);
  if (!ix) {
    const linked = [...uses.values()].some((q) => q.has(Q.link));
    indexes.set(uses, (ix = { sorted: [...uses.keys()].sort(), uses, linked }));
  }
  return ix;
}

/**
 * The recorded paths a commit's changed paths may affect: each changed path itself; every path under it (a
 * directory replaced by a file or a link takes its probed paths along); and each directory above it whose
 * listing was recorded ("dir/" or a "list" question).
 */
function affected(ix: UsesIndex, changed: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const c of changed) {
    if (ix.uses.has(c)) out.add(c);
    const prefix = `${c}/`;
    for (let i = lowerBound(ix.sorted, prefix); i < ix.sorted.length && ix.sorted[i].startsWith(prefix); i++)
      out.add(ix.sorted[i]);
    for (let d = c; d !== "";) {
      d = d.includes("/") ? d.slice(0, d.lastIndexOf("/")) : "";
      if (ix.uses.has(`${d}/`)) out.add(`${d}/`);
      if (ix.uses.get(d)?.has(Q.list)) out.add(d);
    }
  }
  return out;
}

function lowerBound(xs: readonly string[], x: string): number {
  let [lo, hi] = [0, xs.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
