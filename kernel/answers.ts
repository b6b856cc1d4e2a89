// Read stage: the answers a tree gives to the questions an extraction asked of its files (kernel/tree's Uses).
// Two trees that give every question the same answer give the extraction the same result, whatever else in
// their files differs: a commit that only touches other parts of the headers the function reads changes
// nothing kspec log needs to read again.

import { mayDefine, quickIncludes, scanDirectives } from "./cpp.js";
import { definitionsIn } from "./locate.js";
import { Q, RecordedPaths, type KernelTree, type Uses } from "./tree.js";

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

const indexes = new WeakMap<Uses, RecordedPaths>();

function recorded(uses: Uses): RecordedPaths {
  let r = indexes.get(uses);
  if (!r) indexes.set(uses, (r = new RecordedPaths(uses.keys())));
  return r;
}

/** Was any path of the record reached through a symlink? */
export function linked(uses: Uses): boolean {
  for (const q of uses.values()) if (q.has(Q.link)) return true;
  return false;
}
