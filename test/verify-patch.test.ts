// Tests of verify-patch on the real Debian 6.12 tree: fixture series (test/fixtures/series, one test per file)
// derived from kspec's own 6.12 series at test time — regrouped with git, a file moved between patches, a hunk
// dropped, a line changed — each with the verdict and the patch and line it must name; bad input of every kind;
// and the SARIF output validated by Microsoft's SARIF validator.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kspec, kspecJson, REPO } from "./helpers/run.js";
import { sh, worktree } from "./helpers/kernel.js";
import { smallRepo } from "./helpers/history.js";
import { treeDir } from "./helpers/trees.js";

const FIX = join(import.meta.dirname, "fixtures", "series");
const tmp = () => mkdtempSync(join(tmpdir(), "kspec-vp-"));

type Many<T> = T | T[];
const many = <T>(x: Many<T> | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

interface SeriesFixture {
  tree: "6.12";
  /** Derived from one of kspec's own series... */
  from?: string;
  /** ...or written here as commits of exact text edits, made into a series with git. */
  commits?: { subject: string; body: string; edits: { file: string; find: string; replace: string }[] }[];
  policy: string;
  regroup?: number[][];
  moveFile?: { file: string; from: number; to: number };
  dropHunk?: Many<{ patch: number; file: string; containing: string }>;
  replace?: Many<{ patch: number; text: string; with: string }>;
  /** Only these patches of the series (1-based). */
  only?: number[];
  /** More verify-patch options (--fuzz 1). */
  args?: string[];
  expect: {
    exit: number;
    verdict?: string;
    patches?: number;
    notBisectable?: number[];
    meaningChanged?: number[];
    problem?: { patch: number; id: string; file: string; lineOf: string };
    counterexampleLineOf?: string;
    /** Warnings of steps: [patch, id]. */
    warnings?: [number, string][];
    /** The end-of-series findings, [id, severity] in order. */
    findings?: [string, string][];
    /** The exit code with --strict (warnings fail). */
    strictExit?: number;
    error?: string;
  };
}

/** A patch: mail part, file sections ("diff --git ..."), and the signature after them. */
function split(text: string) {
  const first = text.indexOf("\ndiff --git ") + 1;
  const sig = text.lastIndexOf("\n-- \n") + 1;
  const body = text.slice(first, sig);
  const sections = body.split(/(?=^diff --git )/m);
  return { head: text.slice(0, first), sections, sig: text.slice(sig) };
}

function goldenPatches(dir: string): { name: string; text: string }[] {
  return readdirSync(join(REPO, dir))
    .filter((f) => !f.startsWith("0000-"))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(REPO, dir, name), "utf8") }));
}

/** Commits of exact text edits on the base tree, formatted with git: a hand-written series. */
function commitSeries(fx: SeriesFixture, dir: string): string[] {
  const { dir: wt, base } = worktree(fx.tree, "verify");
  const git = (...args: string[]) => {
    const r = sh("git", args, { cwd: wt });
    if (r.code !== 0) throw new Error(`git ${args.join(" ")}: ${r.out}`);
    return r.out;
  };
  for (const c of fx.commits!) {
    for (const e of c.edits) {
      const file = join(wt, e.file);
      const text = readFileSync(file, "utf8");
      expect(text.split(e.find).length - 1, `${e.file}: '${e.find.slice(0, 60)}' once`).toBe(1);
      writeFileSync(file, text.replace(e.find, e.replace));
      git("add", "-f", e.file);
    }
    git("commit", "-q", "-m", `${c.subject}\n\n${c.body}`);
  }
  git("format-patch", "-q", "-o", join(dir, "out"), base);
  return readdirSync(join(dir, "out"))
    .sort()
    .map((f) => join(dir, "out", f));
}

/** The fixture's series, written to a directory; returns the patch paths in order. */
function buildSeries(fx: SeriesFixture): string[] {
  const dir = tmp();
  if (fx.commits) return commitSeries(fx, dir);
  let patches = goldenPatches(fx.from!);
  if (fx.regroup) {
    // Real git does the regrouping: apply each group to a worktree, commit it, format-patch the result.
    const { dir: wt, base } = worktree(fx.tree, "verify");
    const git = (...args: string[]) => {
      const r = sh("git", args, { cwd: wt });
      if (r.code !== 0) throw new Error(`git ${args.join(" ")}: ${r.out}`);
      return r.out;
    };
    for (const group of fx.regroup) {
      for (const n of group) {
        const f = join(dir, `in-${n}.patch`);
        writeFileSync(f, patches[n - 1].text);
        git("apply", "--index", f);
      }
      const subject = /^Subject: \[PATCH \d+\/\d+\] (.*)$/m.exec(patches[group[0] - 1].text)![1];
      git(
        "commit",
        "-q",
        "-m",
        `${subject}\n\nRegrouped from patches ${group.join(", ")} of the kspec series.`,
      );
    }
    git("format-patch", "-q", "-o", join(dir, "out"), base);
    return readdirSync(join(dir, "out"))
      .sort()
      .map((f) => join(dir, "out", f));
  }
  if (fx.moveFile) {
    const { file, from, to } = fx.moveFile;
    const a = split(patches[from - 1].text);
    const b = split(patches[to - 1].text);
    const moved = a.sections.find((s) => s.startsWith(`diff --git a/${file} `))!;
    expect(moved, `${file} in patch ${from}`).toBeDefined();
    patches[from - 1].text = a.head + a.sections.filter((s) => s !== moved).join("") + a.sig;
    patches[to - 1].text = b.head + [...b.sections, moved].sort().join("") + b.sig;
  }
  for (const { patch, file, containing } of many(fx.dropHunk)) {
    const p = split(patches[patch - 1].text);
    p.sections = p.sections.map((s) => {
      if (!s.startsWith(`diff --git a/${file} `)) return s;
      const [hdr, ...hunks] = s.split(/(?=^@@ )/m);
      const kept = hunks.filter((h) => !h.includes(containing));
      expect(kept.length, `a hunk containing ${containing}`).toBe(hunks.length - 1);
      return hdr + kept.join("");
    });
    patches[patch - 1].text = p.head + p.sections.join("") + p.sig;
  }
  for (const r of many(fx.replace)) {
    const p = patches[r.patch - 1];
    expect(p.text).toContain(r.text);
    p.text = p.text.replace(r.text, r.with);
  }
  if (fx.only) patches = fx.only.map((n) => patches[n - 1]);
  patches = patches.map((p) => ({ ...p }));
  return patches.map((p) => {
    const f = join(dir, p.name);
    writeFileSync(f, p.text);
    return f;
  });
}

/** 1-based line of `text` in `file` after git am of the first `n` patches onto the base tree. */
function lineAfter(patches: string[], n: number, file: string, text: string): number {
  const { dir } = worktree("6.12", "verify");
  for (const p of patches.slice(0, n)) expect(sh("git", ["am", "-q", p], { cwd: dir }).code).toBe(0);
  const i = readFileSync(join(dir, file), "utf8").split("\n").indexOf(text);
  expect(i, `${text} in ${file}`).toBeGreaterThanOrEqual(0);
  return i + 1;
}

for (const category of ["pass", "fail", "bad"]) {
  describe(`verify-patch fixtures: ${category}`, () => {
    for (const name of readdirSync(join(FIX, category)).sort()) {
      it(name, () => {
        const fx: SeriesFixture = JSON.parse(readFileSync(join(FIX, category, name), "utf8"));
        const files = buildSeries(fx);
        const e = fx.expect;
        const args = [
          "verify-patch",
          "--kernel",
          treeDir(fx.tree),
          "--policy",
          fx.policy,
          ...(fx.args ?? []),
        ];
        const r = kspec([...args, "--json", ...files]);
        expect(r.code, r.stderr).toBe(e.exit);
        if (e.error) {
          expect(r.stderr.trim().split("\n")).toHaveLength(1);
          expect(r.stderr).toContain(e.error);
          return;
        }
        const j = JSON.parse(r.stdout);
        if (e.verdict) expect(j.verdict).toBe(e.verdict);
        if (e.patches) expect(j.patches).toHaveLength(e.patches);
        if (e.notBisectable)
          expect(j.patches.filter((p: any) => !p.bisectable).map((p: any) => p.index)).toEqual(
            e.notBisectable,
          );
        if (e.meaningChanged)
          expect(j.patches.filter((p: any) => p.meaning.kind === "changed").map((p: any) => p.index)).toEqual(
            e.meaningChanged,
          );
        if (e.problem) {
          const pr = j.patches[e.problem.patch - 1].plumbing.problems.find(
            (p: any) => p.id === e.problem!.id,
          );
          expect(pr, JSON.stringify(j.patches[e.problem.patch - 1].plumbing.problems)).toBeDefined();
          expect(pr.file).toBe(e.problem.file);
          expect(pr.line).toBe(lineAfter(files, e.problem.patch, e.problem.file, e.problem.lineOf));
        }
        if (e.findings) expect(j.findings.map((f: any) => [f.id, f.severity])).toEqual(e.findings);
        if (e.warnings)
          expect(j.patches.flatMap((p: any) => p.warnings.map((w: any) => [p.index, w.id]))).toEqual(
            e.warnings,
          );
        if (e.counterexampleLineOf) {
          const line = lineAfter(files, files.length, "arch/x86/kvm/vmx/vmx.c", e.counterexampleLineOf);
          expect(j.final.counterexamples.length).toBeGreaterThan(0);
          for (const c of j.final.counterexamples) {
            expect(c.inputs.slotFlag).toBe(true);
            expect(c.c).toMatchObject({ file: "arch/x86/kvm/vmx/vmx.c", line });
          }
        }
        // The human report names the same patches.
        const h = kspec([...args, ...files]);
        expect(h.code).toBe(e.exit);
        if (e.notBisectable?.length)
          expect(h.stdout).toContain(`not bisectable: patch ${e.notBisectable.join(", ")}`);
        else expect(h.stdout).toContain("every step consistent");
        for (const [id, sev] of e.findings ?? [])
          expect(h.stdout).toMatch(new RegExp(`^  ${sev}: .*\\[${id}\\]$`, "m"));
        if (e.strictExit !== undefined) {
          const strict = kspec([...args, "--strict", ...files]);
          expect(strict.code).toBe(e.strictExit);
        }
      });
    }
  });
}

describe("verify-patch inputs", () => {
  it("kspec's own series verifies as equal, every step consistent, on both trees; an mbox on stdin too", () => {
    for (const v of ["6.1", "6.12"] as const) {
      const dir = join(REPO, "out", `linux-${v}`, "non-coherent-dma");
      const files = readdirSync(dir)
        .sort()
        .map((f) => join(dir, f));
      const r = kspecJson([
        "verify-patch",
        "--kernel",
        treeDir(v),
        "--policy",
        "non-coherent-dma",
        "--json",
        ...files,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json).toMatchObject({ verdict: "equal", bisectable: true, complete: true });
      const mbox = files.map((f) => readFileSync(f, "utf8")).join("");
      const s = kspecJson(
        ["verify-patch", "--kernel", treeDir(v), "--policy", `linux-${v}+non-coherent-dma`, "--json", "-"],
        { input: mbox },
      );
      expect(s.code, s.stderr).toBe(0);
      expect(s.json.patches).toHaveLength(5);
    }
  });

  const good = readFileSync(
    join(
      REPO,
      "out/linux-6.12/non-coherent-dma/0003-KVM-VMX-Honor-guest-PAT-for-KVM-MEM-NON-COHERENT-DMA.patch",
    ),
    "utf8",
  );
  const diffOnly = (path: string, extra = "") =>
    `diff --git a/${path} b/${path}\n${extra}--- a/${path}\n+++ b/${path}\n@@ -1,1 +1,2 @@\n line\n+added\n`;
  const bad: [string, string | Buffer, RegExp][] = [
    ["a path that leaves the tree", diffOnly("../outside.c"), /path leaves the tree: \.\.\/outside\.c/],
    [
      "an absolute path",
      "diff --git a/x b/x\n--- /etc/hosts\n+++ /etc/hosts\n@@ -1 +1 @@\n-a\n+b\n",
      /absolute path not allowed: \/etc\/hosts/,
    ],
    [
      "a file the tree does not have",
      diffOnly("arch/x86/kvm/no_such_file.c"),
      /arch\/x86\/kvm\/no_such_file\.c does not exist in the tree/,
    ],
    [
      "a binary patch",
      "diff --git a/fw.bin b/fw.bin\nindex 1..2 100644\nGIT binary patch\nliteral 1\nIcmZpX0RR8102KfL\n",
      /a binary patch is not supported/,
    ],
    [
      "a rename",
      "diff --git a/a.c b/b.c\nsimilarity index 100%\nrename from a.c\nrename to b.c\n",
      /a rename is not supported/,
    ],
    [
      "a mode change",
      "diff --git a/Makefile b/Makefile\nold mode 100644\nnew mode 100755\n",
      /a mode change is not supported/,
    ],
    [
      "a hunk that does not apply",
      good.replace(" \tif (is_mmio)\n", " \tif (is_mmio && true)\n"),
      /\[PATCH 3\/5\]: hunk #1 of arch\/x86\/kvm\/vmx\/vmx\.c \(at line \d+\) does not apply/,
    ],
    ["an empty file", "", /empty/],
    ["a file that is not a patch", "Just some notes about EPT memory types.\n", /not a patch/],
    ["a file over the size limit", Buffer.alloc((8 << 20) + 1, 0x61), /larger than the 8 MiB limit/],
    ["a truncated hunk", diffOnly("Makefile").replace("+added\n", ""), /truncated hunk/],
  ];
  for (const [what, content, msg] of bad) {
    it(`refuses ${what}: one line, exit 2`, () => {
      const f = join(tmp(), "input.patch");
      writeFileSync(f, content);
      const r = kspec(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", f]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    });
  }

  it("refuses an mbox that mixes two series", () => {
    const a = readFileSync(
      join(
        REPO,
        "out/linux-6.12/non-coherent-dma/0001-KVM-Add-the-KVM-MEM-NON-COHERENT-DMA-memslot-flag.patch",
      ),
      "utf8",
    );
    const b = readFileSync(
      join(REPO, "out/linux-6.12/mem-dma/0002-x86-mm-pat-Add-pat-pfn-memtype-to-look-up-a-PFN-s-me.patch"),
      "utf8",
    );
    const f = join(tmp(), "mixed.mbox");
    writeFileSync(f, a + b);
    const r = kspec(["verify-patch", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kspec: mixed series: .*\[PATCH 2\/6\].*\[PATCH 1\/5\]/);
  });

  it("never writes into the tree", () => {
    const probe = join(treeDir("6.12"), "arch/x86/kvm/vmx/vmx.c");
    const before = statSync(probe).mtimeMs;
    const dir = join(REPO, "out", "linux-6.12", "non-coherent-dma");
    kspec([
      "verify-patch",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "non-coherent-dma",
      ...readdirSync(dir).map((f) => join(dir, f)),
    ]);
    expect(statSync(probe).mtimeMs).toBe(before);
    expect(readFileSync(probe, "utf8")).not.toContain("kvm_slot_non_coherent_dma");
  });
});

describe("patches that create files, and hunks with no context", () => {
  // git format-patch writes a new file as "@@ -0,0 +1,N @@" and, with -U0, an insertion after line N as
  // "@@ -N,0 +M,K @@": both apply as git am applies them, the second at its own line (the next patch's context
  // says where the inserted line must be).
  it("a series that creates a header and inserts a line with -U0 applies, each hunk where git am puts it", () => {
    const { dir, ids, git, edit, commit } = smallRepo();
    const out = tmp();
    try {
      edit("include/linux/kspec-new.h", () => "/* A header the series creates. */\n");
      commit("new-file");
      edit("arch/x86/kvm/vmx/vmx.c", (t) =>
        t.replace("#include <linux/highmem.h>\n", "#include <linux/highmem.h>\n/* kspec: inserted */\n"),
      );
      commit("inserted");
      edit("arch/x86/kvm/vmx/vmx.c", (t) => t.replace("/* kspec: inserted */", "/* kspec: changed */"));
      commit("changed");
      const patch = (name: string, ...opts: string[]) => {
        const file = join(out, `${name}.patch`);
        writeFileSync(file, git("format-patch", "--stdout", ...opts, "-1", ids.get(name)!) + "\n");
        return file;
      };
      const series = [patch("new-file"), patch("inserted", "-U0"), patch("changed")];
      const r = kspec(
        ["verify-patch", "--kernel", `${dir}@${ids.get("base")}`, "--policy", "linux-6.12", ...series],
        {
          env: { KSPEC_CACHE: "off" },
        },
      );
      expect(r.stdout + r.stderr).not.toMatch(/does not apply/);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain("every step consistent");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("SARIF", () => {
  it("validates against SARIF 2.1.0 (Microsoft's SARIF validator) and locates findings in the patched files", () => {
    const fx: SeriesFixture = JSON.parse(readFileSync(join(FIX, "fail", "vmx-sets-ipat.json"), "utf8"));
    const files = buildSeries(fx);
    const r = kspec([
      "verify-patch",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      fx.policy,
      "--sarif",
      ...files,
    ]);
    expect(r.code).toBe(1);
    const dir = tmp();
    const log = join(dir, "kspec.sarif");
    writeFileSync(log, r.stdout);
    const sarif = JSON.parse(r.stdout);
    expect(sarif.version).toBe("2.1.0");
    const results = sarif.runs[0].results;
    expect(
      results.some(
        (x: any) =>
          x.ruleId === "kspec/differs" &&
          x.locations[0].physicalLocation.artifactLocation.uri === "arch/x86/kvm/vmx/vmx.c",
      ),
    ).toBe(true);
    const tool = join(REPO, "node_modules", "@microsoft", "sarif-multitool-linux", "Sarif.Multitool");
    const out = join(dir, "validation.sarif");
    const v = sh(tool, ["validate", log, "--output", out, "--log", "ForceOverwrite"], {
      env: { DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: "1" },
    });
    expect(v.code, v.out).toBe(0);
    const findings = JSON.parse(readFileSync(out, "utf8")).runs[0].results ?? [];
    expect(
      findings.filter((f: any) => f.level === "error"),
      JSON.stringify(findings),
    ).toEqual([]);
    // The check command's SARIF validates too.
    const c = kspec(["check", "--kernel", treeDir("6.1"), "--policy", "linux-6.7", "--sarif"]);
    writeFileSync(log, c.stdout);
    const v2 = sh(tool, ["validate", log, "--output", out, "--log", "ForceOverwrite"], {
      env: { DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: "1" },
    });
    expect(v2.code, v2.out).toBe(0);
    expect(
      (JSON.parse(readFileSync(out, "utf8")).runs[0].results ?? []).filter((f: any) => f.level === "error"),
    ).toEqual([]);
  });
});
