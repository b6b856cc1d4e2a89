// Patch stage: the diffs of a series — git's, or a plain `diff -u` or quilt patch — parsed with jsdiff and
// applied to a tree's in-memory overlay as git am applies them: context must match exactly, a hunk may apply at
// an offset (reported), fuzz only when asked for (a warning), a hunk that does not apply is named. Untrusted
// input is only read; nothing is written to the tree.

import { parsePatch, type StructuredPatch, type StructuredPatchHunk } from "diff";
import { InputError } from "../spec/errors.js";
import { inPool, MAX_INPUT_BYTES, readMails, type MailPatch } from "./mail.js";
import { blockedMessage, safeRel, type KernelTree } from "./tree.js";

export { MAX_INPUT_BYTES };

export interface FilePatch {
  oldPath?: string;
  newPath?: string;
  hunks: StructuredPatchHunk[];
  /** Line in the patch text where this file's diff starts (1-based), for messages. */
  line: number;
}

export interface Patch extends Omit<MailPatch, "diff"> {
  files: FilePatch[];
}

/** The patches of one input (a path or "-" for standard input). */
export async function readInput(arg: string, stdin: () => Buffer, stdinName?: string): Promise<Patch[]> {
  return (await readMails(arg, stdin, stdinName)).map(({ diff, ...m }) => ({
    ...m,
    files: parseDiff(diff, m.source),
  }));
}

/**
 * A series must be one series: one version, the same prefix and count, each number once, in order. Several
 * versions (an mbox with v1 and v2) are refused with the versions named, unless `version` picks one.
 */
export function orderSeries(all: Patch[], version?: number): Patch[] {
  const versions = [...new Set(all.map((p) => p.version))].sort((a, b) => a - b);
  if (version !== undefined && !versions.includes(version))
    throw new InputError(
      `--series-version ${version}: the input holds ${versions.map((v) => `v${v}`).join(", ")}`,
    );
  if (version === undefined && versions.length > 1)
    throw new InputError(
      `the input holds versions ${versions.map((v) => `v${v}`).join(" and ")} of a series: pick one with --series-version N`,
    );
  const patches = version === undefined ? all : all.filter((p) => p.version === version);
  if (!patches.length) throw new InputError("no patches in the input (only cover letters or replies)");
  const numbered = patches.filter((p) => p.number);
  if (numbered.length && numbered.length !== patches.length) {
    throw new InputError(
      `mixed input: ${patches.find((p) => !p.number)!.source} is not numbered like the other patches`,
    );
  }
  if (!numbered.length) return patches;
  const { prefix, m } = numbered[0].number!;
  for (const p of numbered) {
    if (p.number!.m !== m || p.number!.prefix !== prefix) {
      throw new InputError(
        `mixed series: ${p.source} is [${p.number!.prefix} ${p.number!.n}/${p.number!.m}], ${numbered[0].source} is [${prefix} ${numbered[0].number!.n}/${m}]`,
      );
    }
  }
  const seen = new Map<number, Patch>();
  const same = (a: Patch, b: Patch) =>
    a.subject === b.subject && JSON.stringify(a.files) === JSON.stringify(b.files);
  for (const p of numbered) {
    // The same patch twice (the copies two mailing lists delivered, saved side by side) is one patch.
    if (seen.has(p.number!.n) && same(seen.get(p.number!.n)!, p)) continue;
    if (seen.has(p.number!.n))
      throw new InputError(
        `mixed series: two patches numbered ${p.number!.n}/${m} (${seen.get(p.number!.n)!.source}, ${p.source})`,
      );
    seen.set(p.number!.n, p);
  }
  // A part of a series is fine (patch 3/4 alone onto a tree that has 1-2): it is applied in numbered order. A
  // hole inside the part is not: the patches after it would be checked against a state no one ever had.
  const ns = [...seen.keys()].sort((a, b) => a - b);
  const missing: number[] = [];
  for (let n = ns[0]; n < ns[ns.length - 1]; n++) if (!seen.has(n)) missing.push(n);
  if (missing.length) {
    const tag = prefix ? `${prefix} ` : "";
    throw new InputError(
      `${missing.map((n) => `[${tag}${n}/${m}]`).join(", ")} ${missing.length === 1 ? "is" : "are"} missing from the series (got ${ns.join(", ")} of ${m})`,
    );
  }
  return [...seen.values()].sort((a, b) => a.number!.n - b.number!.n);
}

const UNSUPPORTED: [RegExp, string][] = [
  [/^GIT binary patch$|^Binary files /, "a binary patch"],
  [/^rename (from|to) /, "a rename"],
  [/^copy (from|to) /, "a copy"],
  [/^(old|new) mode /, "a mode change"],
  // A symlink could point anywhere, and a gitlink is another repository: kspec reads only regular files.
  [/^(new|deleted) file mode 120000$|^index \w+\.\.\w+ 120000$/, "a symlink"],
  [/^(new|deleted) file mode 160000$|^index \w+\.\.\w+ 160000$/, "a submodule (gitlink)"],
  [/^(new|deleted) file mode (?!100644$|100755$)\d+$/, "a file that is not a regular file"],
];

/** A path of a diff header: a/ b/ (or any first component of a plain diff's "linux.orig/...") stripped. */
function diffPath(name: string | undefined, git: boolean): string | undefined {
  if (name === undefined) return undefined;
  const n = name.replace(/\t.*$/, "").trim();
  if (n === "/dev/null") return undefined;
  const stripped = /^[ab]\//.test(n) ? n.slice(2) : !git && n.includes("/") ? n.slice(n.indexOf("/") + 1) : n;
  return safeRel(stripped);
}

/**
 * The file sections of a diff: git's ("diff --git" sections) or a plain unified diff (sections from each "--- "
 * line followed by "+++ ", as diff -u and quilt write them). jsdiff parses each section's hunks; a section is cut
 * where its hunks end (by their line counts, as git apply reads them), so that a diffstat before the diff or a
 * mail signature after it is not taken for diff lines.
 */
export function parseDiff(text: string, source: string): FilePatch[] {
  const lines = text.split("\n");
  const git = lines.some((l) => l.startsWith("diff --git "));
  const starts = git
    ? lines.flatMap((l, i) => (l.startsWith("diff --git ") ? [i] : []))
    : lines.flatMap((l, i) => (l.startsWith("--- ") && (lines[i + 1] ?? "").startsWith("+++ ") ? [i] : []));
  if (!starts.length)
    throw new InputError(`${source}: no diff in it (neither 'diff --git' nor '--- a/... +++ b/...')`);
  const files: FilePatch[] = [];
  for (const [k, start] of starts.entries()) {
    const end = k + 1 < starts.length ? starts[k + 1] : lines.length;
    let i = git ? start + 1 : start;
    let newFile = false;
    let deleted = false;
    for (; i < end && !lines[i].startsWith("--- ") && !lines[i].startsWith("@@"); i++) {
      for (const [re, what] of UNSUPPORTED)
        if (re.test(lines[i])) throw new InputError(`${source}:${i + 1}: ${what} is not supported`);
      if (/^new file mode /.test(lines[i])) newFile = true;
      if (/^deleted file mode /.test(lines[i])) deleted = true;
    }
    if (i >= end)
      throw new InputError(
        `${source}:${start + 1}: '${lines[start]}' has no hunks (empty or mode-only changes are not supported)`,
      );
    // Keep the --- / +++ headers and exactly the hunks' lines.
    const keep = [lines[i], lines[i + 1]];
    let j = i + 2;
    while (j < end && lines[j].startsWith("@@")) {
      const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(lines[j]);
      if (!h) throw new InputError(`${source}:${j + 1}: malformed hunk header '${lines[j]}'`);
      let oldN = h[2] === undefined ? 1 : Number(h[2]);
      let newN = h[4] === undefined ? 1 : Number(h[4]);
      keep.push(lines[j++]);
      while ((oldN > 0 || newN > 0) && j < end) {
        const l = lines[j];
        if (l.startsWith("\\")) {
          keep.push(l);
          j++;
          continue;
        }
        const c = l[0] ?? " ";
        if (c === " " || l === "") {
          oldN--;
          newN--;
        } else if (c === "-") oldN--;
        else if (c === "+") newN--;
        else throw new InputError(`${source}:${j + 1}: unexpected line in a hunk: '${l.slice(0, 40)}'`);
        keep.push(l === "" ? " " : l);
        j++;
      }
      if (oldN !== 0 || newN !== 0)
        throw new InputError(`${source}:${j}: truncated hunk (the patch ends inside it)`);
      while (j < end && lines[j].startsWith("\\")) keep.push(lines[j++]);
    }
    let parsed: StructuredPatch[];
    try {
      parsed = parsePatch(keep.join("\n") + "\n");
    } catch (e) {
      throw new InputError(`${source}:${i + 1}: ${(e as Error).message}`);
    }
    const p = parsed[0];
    const oldPath = newFile ? undefined : diffPath(p.oldFileName, git);
    const newPath = deleted ? undefined : diffPath(p.newFileName, git);
    if (!oldPath && !newPath) throw new InputError(`${source}:${start + 1}: no file names`);
    if (oldPath && newPath && oldPath !== newPath)
      throw new InputError(`${source}:${start + 1}: a rename is not supported (${oldPath} -> ${newPath})`);
    files.push({ oldPath, newPath, hunks: p.hunks, line: start + 1 });
  }
  return files;
}

/** "0003-x.patch [PATCH 3/4]": the file, and the patch's number where it has one. */
export function label(p: Patch): string {
  return p.number ? `${p.source} [PATCH ${p.number.n}/${p.number.m}]` : p.source;
}

/** How a hunk applied, when not exactly where it said: an offset (as git reports it), or fuzz (a warning). */
export interface HunkNote {
  file: string;
  hunk: number;
  /** Lines from where the hunk header put it. */
  offset: number;
  /** Context lines ignored at each end (0 unless --fuzz allowed it). */
  fuzz: number;
}

export interface Applied {
  tree: KernelTree;
  changed: string[];
  notes: HunkNote[];
}

interface Lines {
  lines: string[];
  /** Does the file end with a newline? */
  eol: boolean;
}

function toLines(text: string): Lines {
  if (text === "") return { lines: [], eol: true };
  const lines = text.split("\n");
  const eol = lines[lines.length - 1] === "";
  if (eol) lines.pop();
  return { lines, eol };
}

/**
 * One hunk applied to a file's lines: at the nearest place where its old lines match exactly (not before the end
 * of the previous hunk), else with up to `fuzz` context lines ignored at each end. Undefined when it does not apply.
 */
function applyHunk(f: Lines, h: StructuredPatchHunk, expected: number, from: number, fuzz: number) {
  const old: string[] = [];
  const neu: string[] = [];
  let oldNoEol = false;
  let newNoEol = false;
  for (const [i, l] of h.lines.entries()) {
    if (l.startsWith("\\")) {
      // "\ No newline at end of file" marks the line before it.
      const prev = h.lines[i - 1] ?? " ";
      if (prev[0] !== "+") oldNoEol = true;
      if (prev[0] !== "-") newNoEol = true;
      continue;
    }
    if (l[0] !== "+") old.push(l.slice(1));
    if (l[0] !== "-") neu.push(l.slice(1));
  }
  const lead = h.lines.findIndex((l) => l[0] !== " ");
  const trail = [...h.lines].reverse().findIndex((l) => l[0] !== " " && l[0] !== "\\");
  const matches = (at: number, a: readonly string[]) => {
    if (at < from || at + a.length > f.lines.length) return false;
    for (let i = 0; i < a.length; i++) if (f.lines[at + i] !== a[i]) return false;
    return true;
  };
  for (let fz = 0; fz <= fuzz; fz++) {
    const cutHead = Math.min(fz, Math.max(lead, 0));
    const cutTail = Math.min(fz, Math.max(trail, 0));
    if (fz > 0 && cutHead === 0 && cutTail === 0) break;
    const a = old.slice(cutHead, old.length - cutTail);
    const b = neu.slice(cutHead, neu.length - cutTail);
    const want = Math.max(0, expected + cutHead);
    // Nearest first, as git apply searches: the expected line, then one line either side, and so on.
    for (let d = 0; d <= f.lines.length; d++) {
      for (const at of d === 0 ? [want] : [want - d, want + d]) {
        if (!matches(at, a)) continue;
        // A hunk that says its last old line has no newline must end the file, and the file must lack it.
        if (oldNoEol && cutTail === 0 && (at + a.length !== f.lines.length || f.eol)) continue;
        const atEnd = at + a.length === f.lines.length;
        f.lines.splice(at, a.length, ...b);
        if (atEnd && cutTail === 0) {
          if (newNoEol) f.eol = false;
          else if (oldNoEol) f.eol = true;
        }
        return { offset: at - want, fuzz: fz, end: at + b.length };
      }
    }
  }
  return undefined;
}

/**
 * Applies one patch to the tree's overlay as git am does, or says which hunk of which file does not apply, and
 * where. `fuzz`: context lines a hunk may ignore at each end (0: none, as git am).
 */
export function applyTo(tree: KernelTree, p: Patch, fuzz = 0): Applied {
  const changes = new Map<string, string | null>();
  const notes: HunkNote[] = [];
  const current = (f: string) => (changes.has(f) ? (changes.get(f) ?? undefined) : tree.read(f));
  for (const fp of p.files) {
    const path = (fp.newPath ?? fp.oldPath)!;
    for (const f of [fp.oldPath, fp.newPath]) {
      const out = f && tree.escapes(f);
      if (out) throw new InputError(`${label(p)}: ${blockedMessage(out)} [symlink-outside-tree]`);
    }
    const old = fp.oldPath ? current(fp.oldPath) : undefined;
    if (fp.oldPath && old === undefined)
      throw new InputError(`${label(p)}: ${fp.oldPath} does not exist in the tree`);
    if (!fp.oldPath && current(path) !== undefined)
      throw new InputError(`${label(p)}: creates ${path}, which already exists`);
    const f = toLines(old ?? "");
    // Hunks are applied one by one, each where the earlier ones moved it, so that a failure names its hunk.
    let delta = 0;
    // Where the earlier hunks landed against their headers: a hunk is looked for that far off first (files
    // drift in blocks), but its offset is reported against its own header, as git apply and patch report it.
    let drift = 0;
    let from = 0;
    for (const [k, h] of fp.hunks.entries()) {
      // The diff package reads "-N,0" (lines inserted after line N; a new file is "-0,0") as starting at N + 1,
      // so oldStart - 1 is where the hunk's old lines begin, 0-based, in every case.
      const expected = h.oldStart - 1 + delta + drift;
      const r = applyHunk(f, h, expected, from, fuzz);
      if (!r)
        throw new InputError(
          `${label(p)}: hunk #${k + 1} of ${path} (at line ${h.oldStart}) does not apply: its context does not match the tree${fuzz ? ` even with fuzz ${fuzz}` : ""}`,
        );
      drift += r.offset;
      if (drift || r.fuzz) notes.push({ file: path, hunk: k + 1, offset: drift, fuzz: r.fuzz });
      delta += h.newLines - h.oldLines;
      from = r.end;
    }
    changes.set(path, fp.newPath ? f.lines.join("\n") + (f.lines.length && f.eol ? "\n" : "") : null);
  }
  return { tree: tree.withOverlay(changes), changed: [...changes.keys()].sort(), notes };
}

/** Several inputs read as one series, in numbered order: what verify-patch is given. */
export async function readSeries(
  inputs: readonly string[],
  stdin: () => Buffer,
  version?: number,
  /** What "-" is called in messages (standard input, or the commits a revision range names). */
  stdinName?: string,
): Promise<Patch[]> {
  if (inputs.filter((p) => p === "-").length > 1) throw new InputError("standard input can be read once");
  // The inputs are read side by side (each waits mostly for git); messages name the first bad one in order.
  const read = (await inPool(inputs, 4, (a) => readInput(a, stdin, stdinName))).flat();
  return orderSeries(read, version);
}
