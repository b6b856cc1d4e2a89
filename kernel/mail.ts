// Read stage (mail): patch inputs as people have them — a format-patch file, `git format-patch --stdout`, an mbox
// (b4's too, with its cover letter and collected trailers), a single message saved by a mail client or a list
// archive (a maildir file, an .eml, with kilobytes of Received/DKIM/ARC headers, quoted-printable or base64 bodies,
// CRLF line ends), or a plain `diff -u`, quilt patch or the output of `git mailinfo`. git mailsplit and mailinfo
// do the mail parsing; replies and cover letters are skipped. Nothing is written but a temporary directory.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../spec/errors.js";
import { childProcess } from "../spec/packages.js";
import { readBounded, tempDir, trackHelper } from "../spec/files.js";

/** Larger inputs are refused: a KVM series is a few hundred kilobytes; this bounds memory and time. */
export const MAX_INPUT_BYTES = 8 << 20;

/** One message of the input that carries a diff. */
export interface MailPatch {
  /** Where it came from: the file name (and the message number within an mbox). */
  source: string;
  /** The subject without its [PATCH ...] prefix. */
  subject: string;
  author?: string;
  /** From the [PATCH vN n/m] prefix: the series version (1 without a vN) and the number, when numbered. */
  version: number;
  number?: { n: number; m: number; prefix: string };
  /** The diff, with whatever git mailinfo left before it (a "---" line, a diffstat). */
  diff: string;
}

/** `[RFC PATCH v2 3/4]`: the prefix text, and n/m when numbered. */
const PREFIX = /^\[([^\]]*\bPATCH\b[^\]]*?|[^\]]*?\d+\/\d+[^\]]*?)\]\s*/i;

function prefixOf(subject: string): { rest: string; version: number; number?: MailPatch["number"] } {
  // List tags ("[kvm]") may come first; the patch prefix is the bracket that says PATCH or n/m.
  let s = subject.trim();
  for (let guard = 0; guard < 4 && s.startsWith("["); guard++) {
    const m = PREFIX.exec(s);
    if (m) {
      const p = m[1];
      const num = /(\d+)\/(\d+)/.exec(p);
      const version = Number(/\bv(\d+)\b/i.exec(p)?.[1] ?? 1);
      const prefix = p.replace(/\s*\d+\/\d+\s*/, " ").trim();
      return {
        rest: s.slice(m[0].length).trim(),
        version,
        number: num ? { n: Number(num[1]), m: Number(num[2]), prefix } : undefined,
      };
    }
    const close = s.indexOf("]");
    if (close < 0) break;
    s = s.slice(close + 1).trim();
  }
  return { rest: s, version: 1 };
}

/** Git's mail tools, run asynchronously so that an interrupt can remove the temporary directory meanwhile. */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = childProcess().execFile(
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
    trackHelper(child);
    // A tool that does not read its standard input (mailsplit) may exit before it is written: not an error.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input);
  });
}

/**
 * `f` over every item, at most `width` at a time, results in the items' order; the first failure in that order
 * is thrown once all have settled (so that no child process outlives the call).
 */
export async function inPool<T, R>(
  items: readonly T[],
  width: number,
  f: (x: T) => Promise<R>,
): Promise<R[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        results[i] = { status: "fulfilled", value: await f(items[i]) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results.map((r) => (r as PromiseFulfilledResult<R>).value);
}

/** Where a diff starts in a text that is not a mail: git's, diff -u's, quilt's, or mailinfo's "---" + diffstat. */
const DIFF_START = /^(diff --git |diff -|Index: |--- \S)/m;

/** A mail or an mbox: it starts with an mbox "From " line or with a header field (of any length). */
function isMail(text: string): boolean {
  return /^From \S/.test(text) || /^[\x21-\x39\x3b-\x7e]+:[ \t]*\S/.test(text.replace(/^\uFEFF/, ""));
}

/** One input (a path or "-" for standard input) -> the patches it carries, replies and cover letters skipped. */
export async function readMails(
  arg: string,
  stdin: () => Buffer,
  stdinName = "<stdin>",
): Promise<MailPatch[]> {
  const name = arg === "-" ? stdinName : arg;
  const buf = arg === "-" ? stdin() : readBounded(arg, MAX_INPUT_BYTES);
  if (buf.includes(0)) throw new InputError(`${name}: binary data, not a patch`);
  const text = buf.toString("utf8");
  if (text.trim() === "") throw new InputError(`${name}: empty`);
  if (!isMail(text)) {
    if (!DIFF_START.test(text))
      throw new InputError(`${name}: not a patch (neither a mail, an mbox nor a unified diff)`);
    return [{ source: name, subject: name, version: 1, diff: text.replace(/\r\n/g, "\n") }];
  }
  const tmp = tempDir("kspec-mail-");
  try {
    const mbox = join(tmp.dir, "in");
    writeFileSync(mbox, text);
    // -b: a file that does not start with an mbox From line is one message (a saved mail, a maildir file).
    await run("git", ["mailsplit", "-b", `-o${tmp.dir}`, mbox]);
    const mails = readdirSync(tmp.dir)
      .filter((f) => /^\d+$/.test(f))
      .sort();
    const out: MailPatch[] = [];
    let skipped = 0;
    // git mailinfo for every message, a few at a time: most of a series' reading is waiting for git.
    const infos = await inPool(mails, 4, (m) =>
      run(
        "git",
        ["mailinfo", "-k", join(tmp.dir, `${m}.msg`), join(tmp.dir, `${m}.patch`)],
        readFileSync(join(tmp.dir, m), "utf8"),
      ),
    );
    for (const [i, m] of mails.entries()) {
      const source = mails.length > 1 ? `${name} #${i + 1}` : name;
      const info = infos[i];
      const header = (k: string) => new RegExp(`^${k}: (.*)$`, "m").exec(info)?.[1];
      const subject = header("Subject") ?? "(no subject)";
      const diff = readFileSync(join(tmp.dir, `${m}.patch`), "utf8");
      const p = prefixOf(subject);
      // A reply quotes patches, it does not carry one; a cover letter has none.
      if (
        /^(re|aw|sv|antw|ynt)\s*:/i.test(subject.trim()) ||
        /^\[[^\]]*\]\s*(re|aw)\s*:/i.test(subject.trim()) ||
        p.number?.n === 0
      ) {
        skipped++;
        continue;
      }
      if (!DIFF_START.test(diff)) {
        if (mails.length === 1) throw new InputError(`${source}: "${subject}" has no diff (not a patch)`);
        skipped++;
        continue;
      }
      out.push({
        source,
        subject: p.rest,
        author: header("Author"),
        version: p.version,
        number: p.number,
        diff,
      });
    }
    if (!out.length && skipped && mails.length > 1)
      throw new InputError(
        `${name}: ${mails.length} messages, none of them a patch (replies and cover letters are skipped)`,
      );
    return out;
  } finally {
    tmp.release();
  }
}
