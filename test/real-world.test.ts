// Tests of kspec on material in the shapes others write it: patch mails as list archives and mail clients save
// them (kilobytes of Received/DKIM/ARC headers, quoted-printable or base64 bodies, CRLF), git format-patch
// --stdout, b4-style mboxes with trailers and replies, maildir files, the output of git mailinfo, plain diff -u
// and quilt patches, an mbox with two versions of a series, hunks that apply at an offset or only with fuzz; and
// the generator on a fork whose uapi header ends its capability list in an #ifdef, and on a policy that reads no
// memslot flag. Every input is built here, at test time, from kspec's own series and fixtures of this project.

import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { build, checkpatch, sh, worktree } from "./helpers/kernel.js";
import { kspec, kspecJson, REPO } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const SERIES = join(REPO, "out", "linux-6.12", "non-coherent-dma");
const HEADERS = readFileSync(
  join(import.meta.dirname, "fixtures", "mail", "list-archive-headers.txt"),
  "utf8",
)
  .split("\n")
  .filter((l) => !l.startsWith("#") && l !== "")
  .join("\n");
const tmp = () => mkdtempSync(join(tmpdir(), "kspec-rw-"));

/** kspec's own 6.12 series: the cover letter and the five patches, as format-patch wrote them. */
function golden(): { name: string; text: string }[] {
  return readdirSync(SERIES)
    .sort()
    .map((name) => ({ name, text: readFileSync(join(SERIES, name), "utf8") }));
}

/** A format-patch file split into its mail headers and its body. */
function parts(text: string): { from: string; headers: Record<string, string>; body: string } {
  const [head, ...rest] = text.split("\n\n");
  const lines = head.split("\n");
  const headers = Object.fromEntries(
    lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
  return { from: lines[0], headers, body: rest.join("\n\n") };
}

/** Quoted-printable as mail clients write it: =XX for '=', tabs and spaces at line ends, soft breaks at 76. */
function quotedPrintable(body: string): string {
  return body
    .split("\n")
    .map((line) => {
      let enc = line
        .replace(/=/g, "=3D")
        .replace(/[^\x20-\x7e\t]/g, (c) =>
          [...Buffer.from(c, "utf8")]
            .map((b) => `=${b.toString(16).toUpperCase().padStart(2, "0")}`)
            .join(""),
        );
      enc = enc.replace(/[ \t]$/, (c) => (c === " " ? "=20" : "=09"));
      const out: string[] = [];
      while (enc.length > 75) {
        let cut = 75;
        // Never split an =XX escape.
        const eq = enc.lastIndexOf("=", cut);
        if (eq > cut - 3) cut = eq;
        out.push(enc.slice(0, cut) + "=");
        enc = enc.slice(cut);
      }
      out.push(enc);
      return out.join("\n");
    })
    .join("\n");
}

/** A patch as a list archive keeps it: long headers first, then its own, a QP or base64 body, CRLF. */
function archived(text: string, encoding: "quoted-printable" | "base64"): string {
  const p = parts(text);
  const body =
    encoding === "base64"
      ? Buffer.from(p.body, "utf8").toString("base64").replace(/.{76}/g, "$&\n")
      : quotedPrintable(p.body);
  const mail = [
    HEADERS,
    `From: ${p.headers.From}`,
    `To: kvm@lists.example.org`,
    `Date: ${p.headers.Date}`,
    `Subject: ${p.headers.Subject}`,
    `Message-Id: ${p.headers["Message-Id"]}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=UTF-8",
    `Content-Transfer-Encoding: ${encoding}`,
    "",
    body,
  ].join("\n");
  return mail.replace(/\n/g, "\r\n");
}

function verify(files: string[], extra: string[] = [], input?: string) {
  return kspecJson(
    [
      "verify-patch",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "non-coherent-dma",
      "--json",
      ...extra,
      ...files,
    ],
    { input },
  );
}

function expectWholeSeries(r: ReturnType<typeof verify>) {
  expect(r.code, r.stderr).toBe(0);
  expect(r.json.verdict).toBe("equal");
  expect(r.json.patches.map((p: any) => p.subject)).toEqual(
    golden()
      .slice(1)
      .map((g) => parts(g.text).headers.Subject.replace(/^\[PATCH \d+\/\d+\] /, "")),
  );
}

describe("patch mails as people have them", () => {
  for (const encoding of ["quoted-printable", "base64"] as const) {
    it(`list-archive mails: ${HEADERS.length} bytes of headers before From:, ${encoding} body, CRLF`, () => {
      const d = tmp();
      const files = golden()
        .slice(1)
        .map((g, i) => {
          const f = join(d, `${i + 1}.eml`);
          writeFileSync(f, archived(g.text, encoding));
          return f;
        });
      expect(readFileSync(files[0], "utf8").indexOf("\r\nFrom: ")).toBeGreaterThan(4096);
      expectWholeSeries(verify(files));
    });
  }

  it("git format-patch --stdout on standard input", () => {
    const { dir, base } = worktree("6.12", "realworld");
    for (const g of golden().slice(1)) {
      const f = join(tmp(), g.name);
      writeFileSync(f, g.text);
      expect(sh("git", ["am", "-q", f], { cwd: dir }).code).toBe(0);
    }
    const stdout = sh("git", ["format-patch", "--stdout", "--cover-letter", base], { cwd: dir }).stdout;
    expect(stdout.match(/^From [0-9a-f]{40} /gm)).toHaveLength(6);
    expectWholeSeries(verify(["-"], [], stdout));
  });

  it("a b4-style mbox: cover letter, collected trailers, and replies in the thread", () => {
    const g = golden();
    const reply = (n: number) =>
      [
        "From reviewer@example.org Mon Sep 17 00:00:00 2001",
        "From: A Reviewer <reviewer@example.org>",
        `Subject: Re: ${parts(g[n].text).headers.Subject}`,
        "Date: Tue, 2 Jan 2024 10:00:00 +0000",
        "",
        "On Mon, Jan 01, 2024, kspec draft wrote:",
        "> diff --git a/arch/x86/kvm/vmx/vmx.c b/arch/x86/kvm/vmx/vmx.c",
        "> --- a/arch/x86/kvm/vmx/vmx.c",
        "",
        "Looks good to me.",
        "",
      ].join("\n");
    const withTrailers = (t: string) =>
      t.replace(
        /\n---\n/,
        "\n\nReviewed-by: A Reviewer <reviewer@example.org>\nLink: https://lore.example.org/r/x\n---\n",
      );
    const mbox = [
      g[0].text,
      withTrailers(g[1].text),
      withTrailers(g[2].text),
      reply(2),
      g[3].text,
      reply(3),
      g[4].text,
      g[5].text,
    ].join("");
    const f = join(tmp(), "thread.mbx");
    writeFileSync(f, mbox);
    expectWholeSeries(verify([f]));
  });

  it("a maildir file and a mail as a client saves it (.eml): one message, no mbox From line", () => {
    const d = tmp();
    mkdirSync(join(d, "Maildir", "cur"), { recursive: true });
    const first = golden()[1].text.replace(/^From [0-9a-f]+ .*\n/, "");
    const f = join(d, "Maildir", "cur", "1704067200.M1P1.host:2,S");
    writeFileSync(f, first);
    const r = kspecJson(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "linux-6.12", "--json", f]);
    expect(r.json.patches).toHaveLength(1);
    expect(r.json.patches[0].subject).toBe("KVM: Add the KVM_MEM_NON_COHERENT_DMA memslot flag");
    expect(r.json.verdict).toBe("equal");
  });

  it("the output of git mailinfo: a diff after a '---' line and a diffstat", () => {
    const d = tmp();
    const files = golden()
      .slice(1)
      .map((g, i) => {
        const patch = join(d, `${i + 1}.diff`);
        const r = sh("git", ["mailinfo", join(d, "msg"), patch], { input: g.text });
        expect(r.code).toBe(0);
        expect(readFileSync(patch, "utf8")).toMatch(/^---\n .* \| +\d+ /);
        return patch;
      });
    // Unnumbered, so one input with the whole series would be ambiguous: each diff is checked on its own base.
    const r = kspecJson([
      "verify-patch",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "linux-6.12",
      "--json",
      files[0],
    ]);
    expect(r.json.patches).toHaveLength(1);
    expect(r.json.patches[0].files).toEqual(["include/linux/kvm_host.h", "include/uapi/linux/kvm.h"]);
  });

  it("an mbox with v1 and v2 of a series is refused with the versions named; --series-version picks one", () => {
    const g = golden();
    const v2 = g.map((x) => x.text.replace(/^Subject: \[PATCH (\d+)\/(\d+)\]/m, "Subject: [PATCH v2 $1/$2]"));
    const f = join(tmp(), "two-versions.mbox");
    writeFileSync(f, [...g.map((x) => x.text), ...v2].join(""));
    const r = kspec(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      "kspec: the input holds versions v1 and v2 of a series: pick one with --series-version N",
    );
    const two = verify([f], ["--series-version", "2"]);
    expectWholeSeries(two);
    expect(two.json.patches.every((p: any) => p.version === 2)).toBe(true);
  });
});

/** The tree after the whole series, and the files the series touched (for plain diffs of it). */
function seriesEnd(): { dir: string; files: string[] } {
  const { dir } = worktree("6.12", "realworld");
  const files = new Set<string>();
  for (const g of golden().slice(1)) {
    const f = join(tmp(), g.name);
    writeFileSync(f, g.text);
    expect(sh("git", ["am", "-q", f], { cwd: dir }).code).toBe(0);
    for (const m of g.text.matchAll(/^diff --git a\/(\S+) /gm)) files.add(m[1]);
  }
  return { dir, files: [...files].sort() };
}

describe("plain diffs", () => {
  it("diff -u of two trees (linux.orig/ and linux/) and a quilt patch (Index: lines) apply as one step", () => {
    const { dir, files } = seriesEnd();
    const d = tmp();
    for (const f of files) {
      for (const [side, root] of [
        ["linux.orig", treeDir("6.12")],
        ["linux", dir],
      ] as const) {
        mkdirSync(dirname(join(d, side, f)), { recursive: true });
        cpSync(join(root, f), join(d, side, f));
      }
    }
    const plain = files
      .map((f) => sh("diff", ["-u", `linux.orig/${f}`, `linux/${f}`], { cwd: d }).stdout)
      .join("");
    expect(plain).not.toContain("diff --git");
    const quilt = files
      .map(
        (f) =>
          `Index: linux/${f}\n${"=".repeat(67)}\n` +
          sh("diff", ["-u", `linux.orig/${f}`, `linux/${f}`], { cwd: d }).stdout,
      )
      .join("");
    for (const [name, text] of [
      ["plain.diff", `A whole series as one plain diff.\n\n${plain}`],
      ["quilt.patch", `Subject-less quilt patch\n\n${quilt}`],
    ]) {
      const f = join(d, name);
      writeFileSync(f, text);
      const r = verify([f]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json.verdict).toBe("equal");
      expect(r.json.patches[0].files).toEqual(files);
    }
  });
});

describe("applying as git am does", () => {
  const [, p1, p2, p3, p4, p5] = golden();
  const write = (texts: string[]) => {
    const d = tmp();
    return texts.map((t, i) => {
      const f = join(d, `${i + 1}.patch`);
      writeFileSync(f, t);
      return f;
    });
  };

  it("a hunk whose line numbers are off applies at an offset, reported", () => {
    const shifted = p3.text.replace(
      /^@@ -(\d+)(,\d+)? \+(\d+)/m,
      (_, a, b, c) => `@@ -${Number(a) + 7}${b ?? ""} +${Number(c) + 7}`,
    );
    expect(shifted).not.toBe(p3.text);
    const files = write([p1.text, p2.text, shifted, p4.text, p5.text]);
    const r = verify(files);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.patches[2].hunks).toEqual([
      { file: "arch/x86/kvm/vmx/vmx.c", hunk: 1, offset: -7, fuzz: 0 },
    ]);
    const h = kspec(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", ...files]);
    expect(h.stdout).toContain("hunk #1 of arch/x86/kvm/vmx/vmx.c applied at offset -7 lines");
  });

  it("the same patch delivered twice (two lists' copies) is one patch; two different patches 1/5 are refused", () => {
    const copies = verify(
      write([
        p1.text,
        p1.text.replace(/^Message-ID: .*$/m, "Message-ID: <copy@lists>"),
        p2.text,
        p3.text,
        p4.text,
        p5.text,
      ]),
    );
    expect(copies.code, copies.stderr).toBe(0);
    expect(copies.json.patches).toHaveLength(5);
    const other = p1.text.replace("+#define KVM_MEM_NON_COHERENT_DMA", "+#define  KVM_MEM_NON_COHERENT_DMA");
    expect(other).not.toBe(p1.text);
    const r = kspec([
      "verify-patch",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "non-coherent-dma",
      ...write([p1.text, other, p2.text]),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mixed series: two patches numbered 1\/5/);
  });

  it("a part of a series keeps the mails' numbers, and says the tree is taken to have the rest", () => {
    const files = write([p2.text, p3.text]);
    const j = verify(files);
    expect(j.json.patches.map((x: { index: number }) => x.index)).toEqual([2, 3]);
    const t = kspec(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", ...files]);
    expect(t.stdout).toContain("patches 2-3 of 5: the tree is taken to have patch 1 already\n");
    expect(t.stdout).toMatch(/^\[2\/5\] KVM: x86\/mmu: Pass the memslot to get_mt_mask\(\)/m);
  });

  it("each hunk's offset is against its own header, as git apply and patch report it", () => {
    // Every hunk of patch 4 written 5 lines late: each applied 5 lines earlier, none "relative to the last".
    const shifted = p4.text.replace(
      /^@@ -(\d+)(,\d+)? \+(\d+)/gm,
      (_, a, b, c) => `@@ -${Number(a) + 5}${b ?? ""} +${Number(c) + 5}`,
    );
    const r = verify(write([p1.text, p2.text, p3.text, shifted, p5.text]));
    expect(r.code, r.stderr).toBe(0);
    const hunks = r.json.patches[3].hunks as { offset: number }[];
    expect(hunks.length).toBe((p4.text.match(/^@@ /gm) ?? []).length);
    expect(hunks.map((h) => h.offset)).toEqual(hunks.map(() => -5));
  });

  it("a context line that does not match is refused, naming the hunk (--fuzz: series fixture applies-with-fuzz)", () => {
    // The first context line of the hunk, changed: the tree no longer matches it.
    const fuzzy = p3.text.replace(/(^@@ [^\n]*\n )([^\n]*)/m, "$1$2 /* changed */");
    expect(fuzzy).not.toBe(p3.text);
    const files = write([p1.text, p2.text, fuzzy, p4.text, p5.text]);
    const r = kspec(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", ...files]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /3\.patch \[PATCH 3\/5\]: hunk #1 of arch\/x86\/kvm\/vmx\/vmx\.c \(at line \d+\) does not apply/,
    );
  });
});

describe("the generator on material it did not write", () => {
  it("a fork's uapi header that ends its capabilities in an #ifdef: the new one goes after it, and builds", () => {
    const { dir } = worktree("6.12", "fork");
    const uapi = join(dir, "include/uapi/linux/kvm.h");
    const text = readFileSync(uapi, "utf8");
    const fork =
      "#define KVM_CAP_X86_GUEST_MODE 238\n#ifdef CONFIG_KVM_KSPEC_FORK\n#define KVM_CAP_KSPEC_FORK_STATE 239\n#define KVM_CAP_KSPEC_FORK_EVENTS 240\n#endif\n";
    writeFileSync(uapi, text.replace("#define KVM_CAP_X86_GUEST_MODE 238\n", fork));
    expect(
      sh("git", ["commit", "-q", "-am", "A fork's capabilities, under its own option"], { cwd: dir }).code,
    ).toBe(0);
    const out = join(tmp(), "series");
    const g = kspec(["gen", "--kernel", dir, "--policy", "non-coherent-dma", "--out", out, "--signoff"]);
    expect(g.code, g.stderr).toBe(0);
    const patches = readdirSync(out).sort().slice(1);
    const enable = readFileSync(join(out, patches[3]), "utf8");
    expect(enable).toContain(
      " #define KVM_CAP_KSPEC_FORK_EVENTS 240\n #endif\n+#define KVM_CAP_USER_CONFIGURE_NONCOHERENT_DMA 241\n",
    );
    for (const p of patches) {
      expect(sh("git", ["am", "-q", join(out, p)], { cwd: dir }).code).toBe(0);
      expect(checkpatch(dir, join(out, p)).out).toMatch(/total: 0 errors, 0 warnings, 0 checks/);
    }
    const b = build(dir, "6.12", ["virt/kvm/kvm_main.o", "arch/x86/kvm/vmx/vmx.o"]);
    expect(b.code, b.out.slice(-3000)).toBe(0);
  });

  it("a policy that reads no memslot flag: one VMX patch, checked, that applies, is checkpatch-clean and builds", () => {
    const policy = join(REPO, "test", "fixtures", "spec", "pass", "self-snoop-6.11.ts");
    const out = join(tmp(), "one");
    const { dir, base } = worktree("6.12", "flagless");
    const g = kspec(["gen", "--kernel", dir, "--policy", policy, "--out", out, "--signoff"]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/^wrote 1 file to .* \(1 patch, rules inserted\)/);
    const [only] = readdirSync(out);
    const text = readFileSync(join(out, only), "utf8");
    expect(text).toMatch(/^Subject: \[PATCH\] KVM: VMX: Honor guest PAT on CPUs that support self-snoop$/m);
    expect(text).toContain(`base-commit: ${base}`);
    expect(text).toContain("static_cpu_has(X86_FEATURE_SELFSNOOP)");
    expect(sh("git", ["am", "-q", join(out, only)], { cwd: dir }).code).toBe(0);
    expect(checkpatch(dir, join(out, only)).out).toMatch(/total: 0 errors, 0 warnings, 0 checks/);
    expect(build(dir, "6.12", ["arch/x86/kvm/vmx/vmx.o"]).code).toBe(0);
    const c = kspecJson(["check", "--kernel", dir, "--policy", `linux-6.12+${policy}`, "--json"]);
    expect(c.json.verdict).toBe("equal");
  });
});
