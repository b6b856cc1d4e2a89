// Read stage: the answers a tree gives to the questions an extraction asked of its files (kernel/tree's Uses).
// Two trees that give every question the same answer give the extraction the same result, whatever else in
// their files differs: a commit that only touches other parts of the headers the function reads changes
// nothing kspec log needs to read again.

import { macroDefinitionsIn, quickIncludes } from "./cpp.js";
import { functionsIn } from "./locate.js";
import { entryTag, Q, RecordedPaths, type KernelTree, type Uses } from "./tree.js";

/** A tree's answer to one question about one path, as a string to compare. */
export function answer(tree: KernelTree, path: string, question: string): string {
  if (question === Q.content) return tree.signature(path);
  if (question === Q.closure) {
    // Read first: a file over the size limit becomes too-large when read.
    const b = tree.bytes(path);
    return JSON.stringify([
      entryTag(tree.entry(path)),
      b ? quickIncludes(b).map((i) => [i.path, i.quoted]) : null,
    ]);
  }
  if (question === Q.list) {
    const l = tree.listing(path, () => true);
    return JSON.stringify([l.files, l.blocked]);
  }
  const colon = question.indexOf(":");
  const [kind, name] = [question.slice(0, colon), question.slice(colon + 1)];
  if (question === Q.defines(name)) {
    const b = tree.bytes(path);
    return JSON.stringify(b ? macroDefinitionsIn(tree, path, b, name) : []);
  }
  if (question === Q.fn(name)) {
    // Where the definition starts and its text fix every location and node the extraction took from it.
    const defs = functionsIn(tree, path, name);
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
  if (linked(uses)) return false;
  for (const p of recorded(uses).affectedBy(changed)) {
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

/** What is derived from one record, once: the index of its paths, and whether any was reached by a link. */
const derived = new WeakMap<Uses, { paths: RecordedPaths; linked: boolean }>();

function derive(uses: Uses): { paths: RecordedPaths; linked: boolean } {
  let d = derived.get(uses);
  if (!d) {
    const linked = [...uses.values()].some((q) => q.has(Q.link));
    derived.set(uses, (d = { paths: new RecordedPaths(uses.keys()), linked }));
  }
  return d;
}

function recorded(uses: Uses): RecordedPaths {
  return derive(uses).paths;
}

/** Was any path of the record reached through a symlink? */
export function linked(uses: Uses): boolean {
  return derive(uses).linked;
}
