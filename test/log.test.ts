// Tests of kspec log and of git revisions wherever a tree is read (DIR@REV, verify-patch BASE..TIP, diff of two
// revisions), on a git history built from the Debian 6.12 tree at test time (test/helpers/history.ts): exactly
// the commits that change the meaning are listed, with their groups; --when narrows them; nothing is written
// into the repository.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partialTree } from "../scripts/history.js";
import { buildHistory, smallRepo, type History } from "./helpers/history.js";
import { sh } from "./helpers/kernel.js";
import { kspec, kspecJson } from "./helpers/run.js";
import { schemaErrors } from "./helpers/schemas.js";
import { treeDir } from "./helpers/trees.js";

let h: History;
const short = (name: string) => h.commits.get(name)!.slice(0, 12);
const byCommit = (name: string) => h.commits.get(name)!;
const names = (shas: string[]) => shas.map((s) => [...h.commits].find(([, c]) => c === s)?.[0] ?? s);
const base = () => byCommit("base");

beforeAll(() => {
  h = buildHistory();
});
afterAll(() => rmSync(h.dir, { recursive: true, force: true }));

describe("kspec log", () => {
  it("lists exactly the commits that change what the function computes, oldest first", () => {
    const r = kspecJson(["log", "--kernel", h.dir, "--json", `${base()}..HEAD`]);
    expect(r.code).toBe(0);
    expect(schemaErrors("log", r.json)).toBe("");
    expect(r.json.function).toEqual({ name: "vmx_get_mt_mask", file: "arch/x86/kvm/vmx/vmx.c" });
    const commits = r.json.commits as {
      commit: string;
      change: string;
      changes: unknown[];
      problems: unknown[];
    }[];
    expect(names(commits.map((c) => c.commit))).toEqual(h.meaningful);
    const change = Object.fromEntries(commits.map((c) => [names([c.commit])[0], c]));
    expect(change["ipat-bit"].change).toBe("changed");
    expect(change["ipat-bit"].changes).toEqual([
      {
        when: { isMmio: false, noncoherentDma: false, quirkIgnoreGuestPat: true },
        before: { mask: 0x70, type: "WB", ipat: true },
        after: { mask: 0x30, type: "WB", ipat: false },
      },
    ]);
    expect(change["ipat-revert"].changes).toEqual([
      {
        when: { isMmio: false, noncoherentDma: false, quirkIgnoreGuestPat: true },
        before: { mask: 0x30, type: "WB", ipat: false },
        after: { mask: 0x70, type: "WB", ipat: true },
      },
    ]);
    expect(change["mmio-wb"].changes).toEqual([
      {
        when: { isMmio: true },
        before: { mask: 0x00, type: "UC", ipat: false },
        after: { mask: 0x30, type: "WB", ipat: false },
      },
    ]);
    expect(change["mmio-uc"].changes).toEqual([
      {
        when: { isMmio: true },
        before: { mask: 0x30, type: "WB", ipat: false },
        after: { mask: 0x00, type: "UC", ipat: false },
      },
    ]);
    expect(change["unreadable"]).toMatchObject({ change: "unverifiable", changes: [] });
    expect(change["unreadable"].problems).toEqual([
      expect.objectContaining({
        kind: "unmodeled-call",
        name: "kspec_unknown_check",
        file: "arch/x86/kvm/vmx/vmx.c",
      }),
    ]);
    expect(change["readable"]).toMatchObject({ change: "verifiable", changes: [] });
    expect(change["helper"].changes).toEqual([
      {
        when: { isMmio: false, noncoherentDma: true, quirkIgnoreGuestPat: true },
        before: { mask: 0x30, type: "WB", ipat: false },
        after: { mask: 0x70, type: "WB", ipat: true },
      },
    ]);
  });

  it("prints each listed commit with its groups, as kspec diff words them", () => {
    const r = kspec(["log", "--kernel", h.dir, `${base()}..HEAD`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `${short("mmio-wb")} KVM: VMX: Map MMIO write-back\n  when isMmio: UC (0x00) -> WB (0x30)\n`,
    );
    expect(r.stdout).toContain(
      `${short("ipat-bit")} KVM: VMX: Move the IPAT bit (a header constant only)\n  when !isMmio, !noncoherentDma, quirkIgnoreGuestPat: WB|IPAT (0x70) -> WB (0x30)\n`,
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `${short("unreadable")} .*\\n  unverifiable: arch/x86/kvm/vmx/vmx.c:\\d+: .*kspec_unknown_check`,
      ),
    );
    for (const quiet of [
      "comment",
      "unrelated",
      "svm",
      "equivalent",
      "header-comment",
      "whitespace",
      "unrelated-2",
    ])
      expect(r.stdout).not.toContain(short(quiet));
    expect(r.stdout.split("\n")[0]).toMatch(
      new RegExp(
        `^vmx_get_mt_mask\\(\\) in arch/x86/kvm/vmx/vmx.c, ${base()}..HEAD \\(15 commits; \\d+ states read, the base included\\): 8 changed what it computes$`,
      ),
    );
  });

  it("reads again only the commits that change what the function asked of the files it read", () => {
    const r = kspec(["log", "--kernel", h.dir, `${base()}..HEAD`], { env: { KSPEC_CACHE: "off" } });
    const m = /\((\d+) commits; (\d+) states read/.exec(r.stdout)!;
    expect(Number(m[1])).toBe(15);
    // Not read: the two commits of unrelated files, and the SVM change (svm.c was searched for the function and
    // still does not define it). Read: the base (the range's parent) and every other commit.
    const read = Number(m[2]);
    expect(read).toBe(15 - 3 + 1);
    expect(read).toBeGreaterThanOrEqual(h.meaningful.length);
  });

  it("--all lists every commit; those that change nothing as unchanged", () => {
    const r = kspecJson(["log", "--kernel", h.dir, "--json", "--all", `${base()}..HEAD`]);
    const commits = r.json.commits as { commit: string; change: string }[];
    expect(commits).toHaveLength(15);
    for (const c of commits) {
      const n = names([c.commit])[0];
      if (!h.meaningful.includes(n)) expect(c.change).toBe("unchanged");
    }
  });

  it("--when keeps the commits that change those inputs' result (and those that make it unreadable)", () => {
    const mmio = kspecJson(["log", "--kernel", h.dir, "--json", "--when", "isMmio", `${base()}..HEAD`]);
    expect(names(mmio.json.commits.map((c: { commit: string }) => c.commit))).toEqual([
      "mmio-wb",
      "mmio-uc",
      "unreadable",
      "readable",
    ]);
    const dma = kspecJson([
      "log",
      "--kernel",
      h.dir,
      "--json",
      "--when",
      "!isMmio noncoherentDma",
      `${base()}..HEAD`,
    ]);
    expect(names(dma.json.commits.map((c: { commit: string }) => c.commit))).toEqual([
      "unreadable",
      "readable",
      "helper",
      "helper-revert",
    ]);
    expect(dma.json.commits[2].changes[0].when).toEqual({
      isMmio: false,
      noncoherentDma: true,
      quirkIgnoreGuestPat: true,
    });
    // The text shows each row under the condition asked about, as the JSON does.
    const text = kspec(["log", "--kernel", h.dir, "--when", "isMmio", `${base()}..HEAD`]).stdout;
    expect(text).toContain(
      `${short("mmio-wb")} KVM: VMX: Map MMIO write-back\n  when isMmio: UC (0x00) -> WB (0x30)\n`,
    );
    expect(text).not.toContain("when always");
    // A family name of a vocabulary input is that input, as in a policy.
    const commitsFor = (when: string) =>
      kspecJson(["log", "--kernel", h.dir, "--json", "--when", when, `${base()}..HEAD`]).json.commits;
    const byAlias = commitsFor("!isMmio quirk:KVM_X86_QUIRK_IGNORE_GUEST_PAT");
    expect(byAlias).toEqual(commitsFor("!isMmio quirkIgnoreGuestPat"));
    expect(byAlias.length).toBeGreaterThan(0);
    const typo = kspec(["log", "--kernel", h.dir, "--when", "isMMio", `${base()}..HEAD`]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(
      /^kspec: --when: unknown input 'isMMio': did you mean isMmio\? \(the vocabulary: /,
    );
  });

  it("the whole history (root commit included) lists the function's appearance", () => {
    const r = kspecJson(["log", "--kernel", h.dir, "--json"]);
    expect(names(r.json.commits.map((c: { commit: string }) => c.commit))).toEqual(["base", ...h.meaningful]);
    expect(r.json.commits[0].change).toBe("verifiable");
  });

  it("a warm run gives the same bytes", () => {
    const a = kspec(["log", "--kernel", h.dir, `${base()}..HEAD`]);
    const b = kspec(["log", "--kernel", h.dir, `${base()}..HEAD`]);
    expect(b.stdout).toBe(a.stdout);
  });

  it("bad input: one line, exit 2", () => {
    for (const args of [
      ["log", "--kernel", h.dir, "--when", "isMmio=WB"],
      ["log", "--kernel", h.dir, "--when", "nosuchinput"],
      ["log", "--kernel", h.dir, "nosuchrev..HEAD"],
      ["log", "--kernel", h.dir, "--output=/tmp/x"],
      ["log", "--kernel", "/nonexistent"],
    ]) {
      const r = kspec(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });

  it("writes nothing into the repository", () => {
    const status = () => sh("git", ["-C", h.dir, "status", "--porcelain", "--ignored"]).stdout;
    const refs = () => sh("git", ["-C", h.dir, "for-each-ref"]).stdout;
    const [s, f] = [status(), refs()];
    kspec(["log", "--kernel", h.dir]);
    kspec(["check", "--kernel", `${h.dir}@${byCommit("mmio-wb")}`, "--policy", "linux-6.12"]);
    expect(status()).toBe(s);
    expect(refs()).toBe(f);
  });
});

describe("kspec log over merges", () => {
  // A small history with branches: a merge is compared with its first parent (what git log shows), and listed
  // only where it differs from every parent — a change made in the merge itself; what a side branch brought is
  // listed at the side branch's commit.
  let dir: string;
  let ids: Map<string, string>;
  const VMX = "arch/x86/kvm/vmx/vmx.c";
  const MMIO = "\t\treturn MTRR_TYPE_UNCACHABLE << VMX_EPT_MT_EPTE_SHIFT;";
  beforeAll(() => {
    const r = smallRepo();
    const { git, edit, commit } = r;
    ({ dir, ids } = r);
    git("checkout", "-q", "-b", "side");
    edit(VMX, (t) => t.replace(MMIO, MMIO.replace("UNCACHABLE", "WRBACK")));
    commit("side-wb");
    git("checkout", "-q", "main");
    edit("kspec-notes.txt", () => "unrelated\n");
    commit("main-unrelated");
    git("merge", "-q", "--no-ff", "-m", "merge-side", "side");
    ids.set("merge-side", git("rev-parse", "HEAD"));
    git("checkout", "-q", "-b", "side2");
    edit("kspec-side2.c", () => "/* side2 */\n");
    commit("side2-unrelated");
    git("checkout", "-q", "main");
    // An evil merge: the merge commit itself maps MMIO uncached again.
    git("merge", "-q", "--no-ff", "--no-commit", "side2");
    edit(VMX, (t) => t.replace(MMIO.replace("UNCACHABLE", "WRBACK"), MMIO));
    commit("evil-merge");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists the side branch's commit and the merge that changes the meaning itself, not the clean merge", () => {
    const r = kspecJson(["log", "--kernel", dir, "--json", `${ids.get("base")}..HEAD`], {
      env: { KSPEC_CACHE: "off" },
    });
    expect(r.code).toBe(0);
    const byId = new Map([...ids].map(([n, c]) => [c, n]));
    const listed = (r.json.commits as { commit: string; change: string; changes: unknown[] }[]).map((c) => ({
      name: byId.get(c.commit),
      change: c.change,
      changes: c.changes,
    }));
    const [uc, wb] = [
      { mask: 0, type: "UC", ipat: false },
      { mask: 0x30, type: "WB", ipat: false },
    ];
    const mmio = (before: object, after: object) => [{ when: { isMmio: true }, before, after }];
    expect(listed).toEqual([
      { name: "side-wb", change: "changed", changes: mmio(uc, wb) },
      { name: "evil-merge", change: "changed", changes: mmio(wb, uc) },
    ]);
    const all = kspecJson(["log", "--kernel", dir, "--json", "--all", `${ids.get("base")}..HEAD`]);
    const unchanged = (all.json.commits as { commit: string; change: string }[])
      .filter((c) => c.change === "unchanged")
      .map((c) => byId.get(c.commit))
      .sort();
    expect(unchanged).toEqual(["main-unrelated", "side2-unrelated"]);
  });
});

describe("kspec log carries the meaning over commits that change nothing it asked", () => {
  // A commit that touches files the function's extraction read, but none of what it asked of them (another part
  // of a header, a function beside it), is not read again; one that changes an answer — a definition of a macro
  // it uses, even through a continuation line — is.
  let dir: string;
  let ids: Map<string, string>;
  const VMX_H = "arch/x86/include/asm/vmx.h";
  const IPAT = "#define VMX_EPT_IPAT_BIT    \t\t\t(1ull << 6)";
  beforeAll(() => {
    const r = smallRepo();
    const { git, edit, commit } = r;
    ({ dir, ids } = r);
    edit(
      "include/linux/list.h",
      (t) => `${t}/* A note at the end of a header the function does not use. */\n`,
    );
    commit("other-header");
    edit("arch/x86/kvm/vmx/vmx.c", (t) => `${t}/* A note after every function of vmx.c. */\n`);
    commit("vmx-elsewhere");
    edit(VMX_H, (t) =>
      t.replace("#define VMX_EPT_MT_EPTE_SHIFT", "/* The type's shift. */\n#define VMX_EPT_MT_EPTE_SHIFT"),
    );
    commit("shifted-definitions");
    edit(
      "include/linux/kernel.h",
      (t) => `${t}#undef VMX_EPT_IPAT_BIT\n#define VMX_EPT_IPAT_BIT (1ull << 5)\n`,
    );
    commit("redefined-elsewhere");
    git("revert", "--no-edit", "HEAD");
    ids.set("redefined-reverted", git("rev-parse", "HEAD"));
    edit(VMX_H, (t) => t.replace(IPAT, "#define VMX_EPT_IPAT_BIT \\\n\t(1ull << 6)"));
    commit("continued");
    // Only the second line of the definition changes.
    edit(VMX_H, (t) => t.replace("VMX_EPT_IPAT_BIT \\\n\t(1ull << 6)", "VMX_EPT_IPAT_BIT \\\n\t(1ull << 5)"));
    commit("continuation-changed");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists exactly the commits that change the meaning, reading only those that change an answer", () => {
    const run = () =>
      kspec(["log", "--kernel", dir, "--all", "--json", `${ids.get("base")}..HEAD`], {
        env: { KSPEC_CACHE: "off" },
      });
    const r = JSON.parse(run().stdout) as { commits: { commit: string; change: string }[] };
    const byId = new Map([...ids].map(([n, c]) => [c, n]));
    const change = Object.fromEntries(r.commits.map((c) => [byId.get(c.commit), c.change]));
    expect(change).toMatchObject({
      "other-header": "unchanged",
      "vmx-elsewhere": "unchanged",
      "shifted-definitions": "unchanged",
      continued: "unchanged",
    });
    for (const n of ["redefined-elsewhere", "redefined-reverted", "continuation-changed"])
      expect(change[n], n).not.toBe("unchanged");
    const text = kspec(["log", "--kernel", dir, `${ids.get("base")}..HEAD`], { env: { KSPEC_CACHE: "off" } });
    // Read: the base, and the four commits that change an answer (a definition moved by the new comment line,
    // the macro defined twice and then once again, the definition continued on a second line, then changed).
    expect(text.stdout).toMatch(/\(7 commits; 6 states read, the base included\)/);
  });
});

describe("kspec log through a symlink", () => {
  // vmx.h reached through a symlink: a commit that changes only the link's target names the target, not the
  // path the function's extraction read; it must be read again all the same.
  it("lists a change made to the target of a symlinked header", () => {
    const { dir, ids, git, edit, commit } = smallRepo();
    try {
      const asm = join(dir, "arch/x86/include/asm");
      git("mv", "arch/x86/include/asm/vmx.h", "arch/x86/include/asm/vmx-real.h");
      symlinkSync("vmx-real.h", join(asm, "vmx.h"));
      commit("linked");
      edit("arch/x86/include/asm/vmx-real.h", (t) =>
        t.replace(/#define VMX_EPT_IPAT_BIT\s+\(1ull << 6\)/, "#define VMX_EPT_IPAT_BIT (1ull << 5)"),
      );
      commit("target-changed");
      const r = kspecJson(["log", "--kernel", dir, "--json", `${ids.get("base")}..HEAD`], {
        env: { KSPEC_CACHE: "off" },
      });
      expect(r.code).toBe(0);
      const listed = (r.json.commits as { commit: string; change: string }[]).map((c) => [
        c.commit === ids.get("target-changed") ? "target-changed" : c.commit,
        c.change,
      ]);
      expect(listed).toEqual([["target-changed", "changed"]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("kspec log and the paths git names", () => {
  // vmx.c's MMIO type comes from <linux/kspec.h>, found in include/linux (arch/x86/include/linux, searched first,
  // does not exist). A commit may change what that include resolves to while git lists none of the paths read.
  const VMX = "arch/x86/kvm/vmx/vmx.c";
  const MMIO = "\t\treturn MTRR_TYPE_UNCACHABLE << VMX_EPT_MT_EPTE_SHIFT;";
  const withKspecHeader = () => {
    const r = smallRepo();
    mkdirSync(join(r.dir, "include/linux"), { recursive: true });
    r.edit("include/linux/kspec.h", () => "#define KSPEC_MMIO_TYPE 0\n");
    r.edit(VMX, (t) =>
      t
        .replace("#include <linux/highmem.h>\n", "#include <linux/highmem.h>\n#include <linux/kspec.h>\n")
        .replace(MMIO, "\t\treturn KSPEC_MMIO_TYPE << VMX_EPT_MT_EPTE_SHIFT;"),
    );
    r.commit("kspec-header");
    mkdirSync(join(r.dir, "kspec-alt"));
    return r;
  };
  const listed = (dir: string, range: string, env: NodeJS.ProcessEnv = { KSPEC_CACHE: "off" }) => {
    const r = kspecJson(["log", "--kernel", dir, "--json", range], { env });
    expect(r.code).toBe(0);
    return r.json.commits as { commit: string; change: string; changes: { after: { type: string } }[] }[];
  };

  it("a directory made a symlink: the probed paths under it are read again", () => {
    const { dir, ids, edit, commit } = withKspecHeader();
    try {
      edit("kspec-alt/kspec.h", () => "#define KSPEC_MMIO_TYPE 6\n");
      commit("alternative-header");
      symlinkSync("../../../kspec-alt", join(dir, "arch/x86/include/linux"));
      commit("linked-directory");
      const c = listed(dir, `${ids.get("kspec-header")}..HEAD`);
      expect(c.map((x) => [x.commit, x.change, x.changes[0]?.after.type])).toEqual([
        [ids.get("linked-directory"), "changed", "WB"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a probed path that becomes a link out of the tree is refused in that commit, not carried over", () => {
    const { dir, ids, commit } = smallRepo();
    try {
      mkdirSync(join(dir, "arch/x86/include/linux"));
      symlinkSync("/etc/hostname", join(dir, "arch/x86/include/linux/highmem.h"));
      commit("outside-link");
      const c = listed(dir, `${ids.get("base")}..HEAD`);
      expect(c.map((x) => [x.commit, x.change])).toEqual([[ids.get("outside-link"), "unverifiable"]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an extraction kept in the cache from a tree without the link is not taken for one with it", () => {
    const { dir, ids, edit, commit } = withKspecHeader();
    const cache = mkdtempSync(join(tmpdir(), "kspec-cache-"));
    try {
      edit("kspec-alt/README", () => "no header here yet\n");
      symlinkSync("../../../kspec-alt", join(dir, "arch/x86/include/linux"));
      commit("linked-directory");
      edit("kspec-alt/kspec.h", () => "#define KSPEC_MMIO_TYPE 6\n");
      commit("header-in-link-target");
      // The unlinked commit's extraction is kept first; its objects are those of the linked one.
      expect(
        kspec(["extract", "--kernel", `${dir}@${ids.get("kspec-header")}`], { env: { KSPEC_CACHE: cache } })
          .code,
      ).toBe(0);
      const c = listed(dir, `${ids.get("linked-directory")}..HEAD`, { KSPEC_CACHE: cache });
      expect(c.map((x) => [x.commit, x.change, x.changes[0]?.after.type])).toEqual([
        [ids.get("header-in-link-target"), "changed", "WB"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe("a commit's objects read as its checkout would have them", () => {
  const VMX = "arch/x86/kvm/vmx/vmx.c";
  const withCache = <T>(f: (env: NodeJS.ProcessEnv) => T): T => {
    const cache = mkdtempSync(join(tmpdir(), "kspec-cache-"));
    try {
      return f({ KSPEC_CACHE: cache });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  };
  const extract = (kernel: string, env: NodeJS.ProcessEnv) =>
    kspecJson(["extract", "--kernel", kernel, "--json"], { env });

  it("a header over the size limit, then removed: the kept refusal is not served for the commit without it", () => {
    const { dir, ids, git, edit, commit } = smallRepo();
    try {
      edit(VMX, (t) =>
        t.replace(
          "#include <linux/highmem.h>\n",
          "#include <linux/highmem.h>\n#include <linux/kspec-huge.h>\n",
        ),
      );
      commit("include");
      writeFileSync(join(dir, "include/linux/kspec-huge.h"), "");
      expect(sh("truncate", ["-s", String(17 << 20), join(dir, "include/linux/kspec-huge.h")]).code).toBe(0);
      commit("huge");
      git("rm", "-q", "include/linux/kspec-huge.h");
      commit("removed");
      withCache((env) => {
        expect(extract(`${dir}@${ids.get("huge")}`, env).code).toBe(2);
        const after = extract(`${dir}@${ids.get("removed")}`, env);
        expect(after.code).toBe(0);
        expect(after.json.problems).toEqual([]);
        expect(after.json.rows.length).toBeGreaterThan(0);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a file named like a commit in git's output does not hide that commit's changes", () => {
    const { dir, ids, edit, commit } = smallRepo();
    try {
      edit(`\x01${"0123456789abcdef".repeat(2)}01234567`, () => "a file with an odd name\n");
      edit(VMX, (t) =>
        t.replace(
          "\treturn (MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT);\n}",
          "\treturn (MTRR_TYPE_UNCACHABLE << VMX_EPT_MT_EPTE_SHIFT);\n}",
        ),
      );
      commit("odd-name");
      const r = kspecJson(["log", "--kernel", dir, "--json", `${ids.get("base")}..HEAD`], {
        env: { KSPEC_CACHE: "off" },
      });
      expect(
        (r.json.commits as { commit: string; change: string }[]).map((c) => [c.commit, c.change]),
      ).toEqual([[ids.get("odd-name"), "changed"]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a symlink whose target blob is a file's text is a broken link, and the file still reads", () => {
    const { dir, ids, git } = smallRepo();
    try {
      const blob = git("rev-parse", `HEAD:${VMX}`);
      git("update-index", "--add", "--cacheinfo", `120000,${blob},arch/x86/kvm/kspec-link`);
      git("commit", "-q", "-m", "link");
      const head = git("rev-parse", "HEAD");
      const x = extract(`${dir}@${head}`, { KSPEC_CACHE: "off" });
      expect([x.code, x.json.problems]).toEqual([0, []]);
      const r = kspecJson(["log", "--kernel", dir, "--json", "--all", `${ids.get("base")}..HEAD`], {
        env: { KSPEC_CACHE: "off" },
      });
      expect((r.json.commits as { change: string }[]).map((c) => c.change)).toEqual(["unchanged"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a header renamed with its text: its definitions are reported at the new path", () => {
    const { dir, ids, git, edit, commit } = smallRepo();
    try {
      const include = (h: string) => (t: string) =>
        t.replace(
          /#include <linux\/highmem.h>\n(#include <linux\/kspec-k.\.h>\n)?/,
          `#include <linux/highmem.h>\n#include <linux/${h}>\n`,
        );
      edit("include/linux/kspec-kx.h", () => "/* another shift */\n\n#define VMX_EPT_MT_EPTE_SHIFT 4\n");
      edit(VMX, include("kspec-kx.h"));
      commit("kx");
      git("mv", "include/linux/kspec-kx.h", "include/linux/kspec-ky.h");
      edit(VMX, include("kspec-ky.h"));
      commit("ky");
      const r = kspecJson(["log", "--kernel", dir, "--json", "--all", `${ids.get("base")}..HEAD`], {
        env: { KSPEC_CACHE: "off" },
      });
      const [kx, ky] = r.json.commits as { problems: { message: string }[] }[];
      expect(kx.problems[0].message).toContain("include/linux/kspec-kx.h:3");
      expect(ky.problems[0].message).toContain("include/linux/kspec-ky.h:3");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an include spelled with // or beside a top-level file: a change to the header it names is seen", () => {
    const { dir, ids, edit, commit } = smallRepo();
    try {
      edit("include/linux/kspec-x.h", () => "/* empty */\n");
      edit("kspec-top.h", () => '#include "kspec-sub.h"\n');
      edit(VMX, (t) =>
        t.replace(
          "#include <linux/highmem.h>\n",
          '#include <linux/highmem.h>\n#include <linux//kspec-x.h>\n#include "../../../../kspec-top.h"\n',
        ),
      );
      commit("spelled");
      edit("include/linux/kspec-x.h", () => "#define VMX_EPT_IPAT_BIT (1ull << 5)\n");
      commit("double-slash");
      edit("include/linux/kspec-x.h", () => "/* empty */\n");
      commit("double-slash-reverted");
      edit("kspec-sub.h", () => "#define VMX_EPT_IPAT_BIT (1ull << 5)\n");
      commit("beside-top");
      const r = kspecJson(["log", "--kernel", dir, "--json", "--all", `${ids.get("spelled")}..HEAD`], {
        env: { KSPEC_CACHE: "off" },
      });
      const byId = new Map([...ids].map(([n, c]) => [c, n]));
      expect(
        (r.json.commits as { commit: string; change: string }[]).map((c) => [byId.get(c.commit), c.change]),
      ).toEqual([
        ["double-slash", "unverifiable"],
        ["double-slash-reverted", "verifiable"],
        ["beside-top", "unverifiable"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a kept refusal names the link it went through, not another commit's", () => {
    const { dir, ids, git, edit, commit } = smallRepo();
    try {
      edit(VMX, (t) =>
        t.replace("#include <linux/highmem.h>\n", "#include <linux/highmem.h>\n#include <kspec/inner/h.h>\n"),
      );
      symlinkSync("/etc", join(dir, "arch/x86/include/kspec"));
      commit("outer-link");
      git("rm", "-q", "arch/x86/include/kspec");
      mkdirSync(join(dir, "arch/x86/include/kspec"));
      symlinkSync("/etc", join(dir, "arch/x86/include/kspec/inner"));
      commit("inner-link");
      withCache((env) => {
        const name = (c: string) =>
          (extract(`${dir}@${ids.get(c)}`, env).json.problems as { kind: string; name: string }[]).find(
            (p) => p.kind === "symlink-outside-tree",
          )?.name;
        expect(name("outer-link")).toBe("arch/x86/include/kspec");
        expect(name("inner-link")).toBe("arch/x86/include/kspec/inner");
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("git revisions wherever a tree is read", () => {
  it("a commit's tree refuses what the disk refuses: a header over the size limit, among headers read together", () => {
    // vmx.h is one of the sixty headers vmx.c includes, which git is asked for in one batch: the oversized blob is
    // skipped in the middle of the answers, and every header after it must still be read as the disk has it.
    const dir = partialTree(treeDir("6.12"), "arch/x86/kvm/vmx/vmx.c");
    try {
      const vmxH = join(dir, "arch/x86/include/asm/vmx.h");
      rmSync(vmxH);
      writeFileSync(vmxH, "");
      expect(sh("truncate", ["-s", String(17 << 20), vmxH]).code).toBe(0);
      const git = (...args: string[]) => expect(sh("git", ["-C", dir, ...args]).code).toBe(0);
      git("init", "-q");
      git("add", "-A", "-f");
      git("-c", "user.name=T", "-c", "user.email=t@example.org", "commit", "-q", "-m", "oversized");
      const check = (kernel: string) =>
        kspecJson(["check", "--kernel", kernel, "--policy", "linux-6.12", "--json"], {
          env: { KSPEC_CACHE: "off" },
        });
      const [disk, commit] = [check(dir), check(`${dir}@HEAD`)];
      expect(disk.code).toBe(2);
      expect(disk.json.problems).toContainEqual(
        expect.objectContaining({
          kind: "file-too-large",
          name: "arch/x86/include/asm/vmx.h",
          // Its own size, read from the disk's stat or git's object header, not the limit's.
          message: expect.stringContaining(`is ${17 << 20} bytes, over the 16 MiB limit`),
        }),
      );
      expect(commit.code).toBe(2);
      expect(commit.json.problems).toEqual(disk.json.problems);
      expect(commit.json.inputs).toEqual(disk.json.inputs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("check --kernel DIR@REV reads that commit (the work tree is elsewhere)", () => {
    const bad = kspec(["check", "--kernel", `${h.dir}@${byCommit("mmio-wb")}`, "--policy", "linux-6.12"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^differs: vmx_get_mt_mask\(\) at arch\/x86\/kvm\/vmx\/vmx.c:\d+/);
    const good = kspec(["check", "--kernel", `${h.dir}@${byCommit("mmio-uc")}`, "--policy", "linux-6.12"]);
    expect(good.code).toBe(0);
    const tip = kspec(["check", "--kernel", `${h.dir}@HEAD~1`, "--policy", "linux-6.12"]);
    expect(tip.code).toBe(0);
  });

  it("diff --kernel DIR@A --kernel DIR@B", () => {
    const r = kspec([
      "diff",
      "--kernel",
      `${h.dir}@${byCommit("equivalent")}`,
      "--kernel",
      `${h.dir}@${byCommit("mmio-wb")}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "1 condition where the mask changed (A -> B):\n  when isMmio: UC (0x00) -> WB (0x30)",
    );
    const same = kspec([
      "diff",
      "--kernel",
      `${h.dir}@${byCommit("mmio-uc")}`,
      "--kernel",
      `${h.dir}@${byCommit("equivalent")}`,
    ]);
    expect(same.code).toBe(0);
  });

  it("verify-patch --kernel DIR BASE..TIP verifies those commits as a series", () => {
    const r = kspecJson([
      "verify-patch",
      "--kernel",
      h.dir,
      "--policy",
      "linux-6.12",
      "--json",
      `${byCommit("equivalent")}..${byCommit("readable")}`,
    ]);
    expect(r.json.patches.map((s: { subject: string }) => s.subject)).toEqual([
      "KVM: VMX: Consult a new check for MMIO",
      "KVM: VMX: Drop the new check again",
    ]);
    // The second step's meaning cannot be compared with the first's (unreadable); the end state can.
    expect(r.json.patches.map((s: { meaning: { kind: string } }) => s.meaning.kind)).toEqual([
      "unverifiable",
      "unverifiable",
    ]);
    expect(r.json.verdict).toBe("equal");
    // A series without a memslot flag has no plumbing, and says so rather than "complete".
    const text = kspec([
      "verify-patch",
      "--kernel",
      h.dir,
      "--policy",
      "linux-6.12",
      `${byCommit("mmio-wb")}..${byCommit("mmio-uc")}`,
    ]).stdout;
    expect(text).toContain("\nno memslot flag in this series: no plumbing to check\n");
    expect(text).not.toContain("plumbing complete");
    expect(readFileSync(join(h.dir, "arch/x86/kvm/vmx/vmx.c"), "utf8")).toContain("\tif (is_mmio)\n");
  });
});
