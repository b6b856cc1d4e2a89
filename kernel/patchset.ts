// Patch stage: reading a series (format-patch files, an mbox, standard input) with git's own mail tools, parsing
// each file's diff with jsdiff, and applying it to a tree's in-memory overlay as strictly as `git apply`: context
// must match, a hunk that does not apply is named. Untrusted input is only read; nothing is written to the tree.

import { execFile } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { applyPatch, parsePatch, type StructuredPatch, type StructuredPatchHunk } from "diff";
import { InputError } from "../spec/errors.js";
import { readBounded, tempDir } from "../spec/files.js";
import { blockedMessage, safeRel, type KernelTree } from "./tree.js";

/** Larger inputs are refused: a KVM series is a few hundred kilobytes; this bounds memory and time. */
export const MAX_INPUT_BYTES = 8 << 20;

export interface FilePatch {
  oldPath?: string;
  newPath?: string;
  hunks: StructuredPatchHunk[];
  /** Line in the patch text where this file's diff starts (1-based), for messages. */
  line: number;
}

export interface Patch {
  /** Where it came from: the file name (and message number within an mbox). */
  source: string;
  subject: string;
  author?: string;
  number?: { n: number; m: number; prefix: string };
  files: FilePatch[];
}

const NUMBERED = /^\[([^\]]*?)\s*(\d+)\/(\d+)\]/;

/** Git's mail tools, run asynchronously so that an interrupt can remove the temporary directory meanwhile. */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { encoding: "utf8", maxBuffer: 4 * MAX_INPUT_BYTES },
      (e, stdout, stderr) => {
        if (!e) return resolve(stdout);
        if ((e as NodeJS.ErrnoException).code === "ENOENT")
          return reject(
            new InputError(`${cmd} is needed to read mail-formatted patches and is not installed`),
          );
        reject(new InputError(`${cmd} ${args[0]}: ${(stderr || String(e)).trim().split("\n")[0]}`));
      },
    );
    // A tool that does not read its standard input (mailsplit) may exit before it is written: not an error.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

/** One input (a path or "-" for standard input) -> its patches, cover letters skipped (so possibly none). */
export async function readInput(arg: string, stdin: () => Buffer): Promise<Patch[]> {
  const name = arg === "-" ? "<stdin>" : arg;
  const buf = arg === "-" ? stdin() : readBounded(arg, MAX_INPUT_BYTES);
  if (buf.includes(0)) throw new InputError(`${name}: binary data, not a patch`);
  const text = buf.toString("utf8");
  if (text.trim() === "") throw new InputError(`${name}: empty`);
  if (/^(diff --git |--- )/.test(text))
    return [{ source: name, subject: name, files: parseDiff(text, name) }];
  if (!/^From /.test(text) && !/^(From|Subject|Date|Message-I[dD]):/m.test(text.slice(0, 4096))) {
    throw new InputError(
      `${name}: not a patch (neither a git format-patch mail, an mbox nor a unified diff)`,
    );
  }
  const mbox = /^From /.test(text) ? text : `From kspec Mon Sep 17 00:00:00 2001\n${text}`;
  const tmp = tempDir("kspec-mail-");
  const dir = tmp.dir;
  try {
    writeFileSync(join(dir, "in.mbox"), mbox);
    await run("git", ["mailsplit", `-o${dir}`, join(dir, "in.mbox")]);
    const mails = readdirSync(dir)
      .filter((f) => /^\d+$/.test(f))
      .sort();
    const out: Patch[] = [];
    for (const [i, m] of mails.entries()) {
      const info = await run(
        "git",
        ["mailinfo", "-k", join(dir, "msg"), join(dir, "patch")],
        readFileSync(join(dir, m), "utf8"),
      );
      const header = (k: string) => new RegExp(`^${k}: (.*)$`, "m").exec(info)?.[1];
      const subject = header("Subject") ?? "(no subject)";
      const num = NUMBERED.exec(subject);
      const source = mails.length > 1 ? `${name} #${i + 1}` : name;
      const diff = readFileSync(join(dir, "patch"), "utf8");
      const number = num ? { prefix: num[1], n: Number(num[2]), m: Number(num[3]) } : undefined;
      if (!/^diff --git /m.test(diff)) {
        if (number?.n === 0 || /^\[[^\]]*\b0\/\d+\]/.test(subject)) continue; // the cover letter
        throw new InputError(`${source}: "${subject}" has no diff (not a patch)`);
      }
      out.push({
        source,
        subject: subject.replace(NUMBERED, "").trim(),
        author: header("Author"),
        number,
        files: parseDiff(diff, source),
      });
    }
    return out;
  } finally {
    tmp.release();
  }
}

/** A series must be one series: the same version prefix and count, each number once, in order. */
export function orderSeries(patches: Patch[]): Patch[] {
  if (!patches.length) throw new InputError("no patches in the input (only a cover letter?)");
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
  for (const p of numbered) {
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
  return [...numbered].sort((a, b) => a.number!.n - b.number!.n);
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

/**
 * The file sections of a diff. jsdiff parses each section's hunks; the section is cut where its hunks end (by
 * their line counts, as git apply reads them), so that a mail signature after the last hunk is not taken for
 * diff lines.
 */
export function parseDiff(text: string, source: string): FilePatch[] {
  const lines = text.split("\n");
  const starts = lines.flatMap((l, i) => (l.startsWith("diff --git ") ? [i] : []));
  if (!starts.length) throw new InputError(`${source}: no 'diff --git' section`);
  const files: FilePatch[] = [];
  for (const [k, start] of starts.entries()) {
    const end = k + 1 < starts.length ? starts[k + 1] : lines.length;
    let i = start + 1;
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
    const strip = (n: string | undefined) =>
      n === undefined || n === "/dev/null"
        ? undefined
        : safeRel(n.replace(/^[ab]\//, "").replace(/\t.*$/, ""));
    const oldPath = newFile ? undefined : strip(p.oldFileName);
    const newPath = deleted ? undefined : strip(p.newFileName);
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

export interface Applied {
  tree: KernelTree;
  changed: string[];
}

/** Applies one patch to the tree's overlay, or says which hunk of which file does not apply, and where. */
export function applyTo(tree: KernelTree, p: Patch): Applied {
  const changes = new Map<string, string | null>();
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
    let text = old ?? "";
    // Hunks are applied one by one, each where the earlier ones moved it, so that a failure names its hunk.
    let delta = 0;
    for (const [k, h] of fp.hunks.entries()) {
      const moved = { ...h, oldStart: h.oldStart + delta };
      delta += h.newLines - h.oldLines;
      const one: StructuredPatch = {
        oldFileName: path,
        newFileName: path,
        oldHeader: "",
        newHeader: "",
        hunks: [moved],
      };
      const r = applyPatch(text, one, { fuzzFactor: 0 });
      if (r === false) {
        throw new InputError(
          `${label(p)}: hunk #${k + 1} of ${path} (at line ${h.oldStart}) does not apply: its context does not match the tree`,
        );
      }
      text = r;
    }
    changes.set(path, fp.newPath ? text : null);
  }
  return { tree: tree.withOverlay(changes), changed: [...changes.keys()].sort() };
}

/** Several inputs read as one series, in numbered order: what verify-patch is given. */
export async function readSeries(inputs: readonly string[], stdin: () => Buffer): Promise<Patch[]> {
  if (inputs.filter((p) => p === "-").length > 1) throw new InputError("standard input can be read once");
  const read: Patch[] = [];
  for (const a of inputs) read.push(...(await readInput(a, stdin)));
  return orderSeries(read);
}
