// Format stage: commits -> a `git format-patch` series: unified diffs (jsdiff) with git's headers, blob ids and
// hunk section headings, diffstats, mail headers threaded to the cover letter. The same inputs give the same
// bytes: dates are fixed and ids are hashes of the content.

import { createHash } from "node:crypto";
import { structuredPatch } from "diff";
import { wrapText } from "./cstyle.js";

export interface FileChange {
  file: string;
  before: string;
  after: string;
  mode?: string;
}

export interface Commit {
  subject: string;
  body: string;
  changes: FileChange[];
}

export interface Identity {
  name: string;
  email: string;
}

/** Used as author when the user asked for no sign-off: plainly a placeholder, never a person. */
export const DRAFT_AUTHOR: Identity = { name: "kspec draft", email: "draft@kspec.invalid" };
/** format-patch's fixed From line date, and the date kspec gives every patch. */
const MBOX_DATE = "Mon Sep 17 00:00:00 2001";
const PATCH_DATE = "Mon, 1 Jan 2024 00:00:00 +0000";

function sha1(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}

/** Git's blob id of a file's content. */
export function blobId(content: string): string {
  const buf = Buffer.from(content, "utf8");
  return createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
}

/** Git's default hunk heading: the last line before the hunk that starts with a letter, '_' or '$'. */
function heading(lines: readonly string[], beforeIndex: number): string {
  for (let i = Math.min(beforeIndex, lines.length) - 1; i >= 0; i--) {
    if (/^[A-Za-z_$]/.test(lines[i])) return " " + lines[i].slice(0, 80).trimEnd();
  }
  return "";
}

/** A hunk range as git writes it: no count when it is 1; an empty range names the line before it. */
function range(start: number, count: number): string {
  return count === 1 ? `${start}` : count === 0 ? `${start - 1},0` : `${start},${count}`;
}

export interface FileDiff {
  file: string;
  text: string;
  added: number;
  removed: number;
}

export function fileDiff(c: FileChange): FileDiff {
  const p = structuredPatch(`a/${c.file}`, `b/${c.file}`, c.before, c.after, "", "", { context: 3 });
  const oldLines = c.before.split("\n");
  const out = [
    `diff --git a/${c.file} b/${c.file}`,
    `index ${blobId(c.before).slice(0, 12)}..${blobId(c.after).slice(0, 12)} ${c.mode ?? "100644"}`,
    `--- a/${c.file}`,
    `+++ b/${c.file}`,
  ];
  let added = 0;
  let removed = 0;
  for (const h of p.hunks) {
    out.push(
      `@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@${heading(oldLines, h.oldStart - 1)}`,
    );
    for (const l of h.lines) {
      if (l.startsWith("+")) added++;
      else if (l.startsWith("-")) removed++;
      out.push(l);
    }
  }
  return { file: c.file, text: out.join("\n") + "\n", added, removed };
}

/** Git's diffstat, 72 columns wide as format-patch writes it. */
export function diffstat(diffs: readonly FileDiff[]): string {
  const nameW = Math.max(...diffs.map((d) => d.file.length));
  const counts = diffs.map((d) => d.added + d.removed);
  const countW = String(Math.max(...counts)).length;
  const graphW = Math.max(8, 72 - nameW - countW - 4);
  const max = Math.max(...counts);
  const scale = (n: number) => (max <= graphW ? n : Math.max(n > 0 ? 1 : 0, Math.round((n * graphW) / max)));
  const lines = diffs.map((d) => {
    const total = d.added + d.removed;
    const plus = scale(d.added);
    const minus =
      max <= graphW ? d.removed : Math.min(scale(total) - plus, scale(d.removed) || (d.removed ? 1 : 0));
    return ` ${d.file.padEnd(nameW)} | ${String(total).padStart(countW)} ${"+".repeat(plus)}${"-".repeat(Math.max(0, minus))}`.trimEnd();
  });
  const files = diffs.length;
  const ins = diffs.reduce((s, d) => s + d.added, 0);
  const del = diffs.reduce((s, d) => s + d.removed, 0);
  const parts = [`${files} file${files === 1 ? "" : "s"} changed`];
  if (ins) parts.push(`${ins} insertion${ins === 1 ? "" : "s"}(+)`);
  if (del) parts.push(`${del} deletion${del === 1 ? "" : "s"}(-)`);
  return lines.join("\n") + `\n ${parts.join(", ")}\n`;
}

/**
 * Commit message prose wrapped at 72 columns; list items ("  - ") wrapped with a hanging indent; other indented
 * lines (tables) and trailers kept as written.
 */
export function formatMessage(text: string): string {
  return text
    .trim()
    .split(/\n{2,}/)
    .map((para) => {
      if (/^ {2}- /m.test(para)) {
        return para
          .split(/\n(?= {2}- )/)
          .map((item) => "  - " + wrapText(item.replace(/^ {2}- /, ""), 72, "    ").trimStart())
          .join("\n");
      }
      return /^\s/m.test(para) || /^\S+:\s/.test(para) ? para : wrapText(para, 72);
    })
    .join("\n\n");
}

export interface SeriesInput {
  /** A series has a cover letter; a single patch on its own has none and no number ("[PATCH]"). */
  cover?: { subject: string; body: string };
  commits: Commit[];
  author: Identity;
  signoff?: Identity;
  baseCommit?: string;
  version: string;
}

export interface PatchFile {
  name: string;
  text: string;
}

function slug(subject: string): string {
  return subject
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 52)
    .replace(/-+$/, "");
}

function headers(from: Identity, subject: string, msgId: string, replyTo?: string): string {
  return [
    `From: ${from.name} <${from.email}>`,
    `Date: ${PATCH_DATE}`,
    `Subject: ${subject}`,
    `Message-Id: <${msgId}>`,
    ...(replyTo ? [`In-Reply-To: <${replyTo}>`, `References: <${replyTo}>`] : []),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: 8bit",
  ].join("\n");
}

export function formatSeries(s: SeriesInput): PatchFile[] {
  const n = s.commits.length;
  const diffs = s.commits.map((c) => c.changes.filter((ch) => ch.before !== ch.after).map(fileDiff));
  const seriesId = sha1(
    JSON.stringify([
      s.cover,
      s.commits.map((c) => [c.subject, c.body]),
      diffs.map((d) => d.map((x) => x.text)),
    ]),
  ).slice(0, 16);
  const coverId = `kspec-${seriesId}-0@kspec.invalid`;
  const sob = s.signoff ? `\n\nSigned-off-by: ${s.signoff.name} <${s.signoff.email}>` : "";
  const sig = `-- \nkspec ${s.version}\n`;
  const files: PatchFile[] = [];

  // The series diffstat: every file's changes summed over the commits.
  const totals = new Map<string, FileDiff>();
  for (const d of diffs.flat()) {
    const t = totals.get(d.file) ?? { file: d.file, text: "", added: 0, removed: 0 };
    t.added += d.added;
    t.removed += d.removed;
    totals.set(d.file, t);
  }
  const shortlog = `${s.author.name} (${n}):\n${s.commits.map((c) => `  ${c.subject}`).join("\n")}`;
  const cover = s.cover;
  if (cover) {
    const coverText = [
      `From ${sha1(coverId)} ${MBOX_DATE}`,
      headers(s.author, `[PATCH 0/${n}] ${cover.subject}`, coverId),
      "",
      formatMessage(cover.body),
      "",
      shortlog,
      "",
      diffstat([...totals.values()].sort((a, b) => (a.file < b.file ? -1 : 1))).trimEnd(),
      "",
      ...(s.baseCommit ? [`base-commit: ${s.baseCommit}`] : []),
      sig,
    ].join("\n");
    files.push({ name: `0000-cover-letter.patch`, text: coverText });
  }

  s.commits.forEach((c, i) => {
    const num = i + 1;
    const subject = cover ? `[PATCH ${num}/${n}] ${c.subject}` : `[PATCH] ${c.subject}`;
    const id = `kspec-${seriesId}-${num}@kspec.invalid`;
    const body = formatMessage(c.body) + sob;
    // Without a cover letter, the base commit goes after the diff, as format-patch --base puts it.
    const base = !cover && s.baseCommit ? [`base-commit: ${s.baseCommit}`, ""] : [];
    const text = [
      `From ${sha1(id + diffs[i].map((d) => d.text).join(""))} ${MBOX_DATE}`,
      headers(s.author, subject, id, cover ? coverId : undefined),
      "",
      body,
      "---",
      diffstat(diffs[i]).trimEnd(),
      "",
      diffs[i].map((d) => d.text).join(""),
      ...base,
    ].join("\n");
    files.push({ name: `${String(num).padStart(4, "0")}-${slug(c.subject)}.patch`, text: text + sig });
  });
  return files;
}
