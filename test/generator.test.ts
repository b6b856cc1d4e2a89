// Tests of the emit stage on the real Debian trees, end to end: the series kspec emits applies with git am,
// the kernel's checkpatch.pl --strict is clean, the kernel's build compiles the touched objects after every
// patch (KVM_WERROR), the selftest builds, and kspec check proves the patched tree equal to the policy.

import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kspec, kspecJson } from "./helpers/run.js";
import { build, checkpatch, gitIdentity, selftestBuild, sh, worktree } from "./helpers/kernel.js";
import { treeDir, type Version } from "./helpers/trees.js";

const OBJS: Record<Version, string[]> = {
  "6.1": ["virt/kvm/kvm_main.o", "arch/x86/kvm/x86.o", "arch/x86/kvm/mmu/spte.o", "arch/x86/kvm/vmx/vmx.o"],
  "6.12": [
    "virt/kvm/kvm_main.o",
    "arch/x86/kvm/x86.o",
    "arch/x86/kvm/mmu/spte.o",
    "arch/x86/kvm/vmx/vmx.o",
    "arch/x86/kvm/vmx/main.o",
  ],
};

const SERIES: [Version, string, string[]][] = [
  ["6.1", "non-coherent-dma", []],
  ["6.12", "non-coherent-dma", []],
  ["6.12", "mem-wc", []],
  ["6.12", "mem-dma", []],
  // The whole function regenerated from the policy instead of the proposal's rules inserted.
  ["6.1", "non-coherent-dma", ["--rewrite"]],
];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "kspec-gen-"));
}

describe.each(SERIES)("the %s series for %s %j", (v, flag, extra) => {
  it(
    "applies with git am, is checkpatch-clean, compiles after every patch, builds its selftest, and checks equal",
    () => {
      const out = join(tmp(), "series");
      const { dir, base } = worktree(v, "gen");
      // --signoff signs as git would commit in the tree: the repository's identity (kernel-git.sh gives it
      // one), not the one of the directory kspec runs in.
      const g = kspec(["gen", "--kernel", dir, "--policy", flag, "--flag", flag, "--out", out, "--signoff"], {
        env: gitIdentity("Somebody Else", "somebody@example.org"),
      });
      const who = ["user.name", "user.email"].map((k) =>
        sh("git", ["config", k], { cwd: dir }).stdout.trim(),
      );
      expect(g.code, g.stderr).toBe(0);
      const files = readdirSync(out).sort();
      expect(files[0]).toBe("0000-cover-letter.patch");
      const cover = readFileSync(join(out, files[0]), "utf8");
      expect(cover).toContain(`base-commit: ${base}`);
      expect(cover).toMatch(/^Subject: \[PATCH 0\/\d\] /m);
      const objs = [...OBJS[v], ...(flag === "mem-dma" ? ["arch/x86/mm/pat/memtype.o"] : [])];
      for (const p of files.slice(1)) {
        const text = readFileSync(join(out, p), "utf8");
        const subject = /^Subject: \[PATCH \d+\/\d+\] (.*)$/m.exec(text)![1];
        expect(subject.length, p).toBeLessThanOrEqual(75);
        expect(subject, p).toMatch(/^(KVM: (x86\/mmu: |VMX: |selftests: )?|x86\/mm\/pat: )[A-Z]/);
        expect(text).toContain(`Signed-off-by: ${who[0]} <${who[1]}>`);
        expect(text).not.toContain("Somebody Else");
        const am = sh("git", ["am", join(out, p)], { cwd: dir });
        expect(am.code, `git am ${p}: ${am.out}`).toBe(0);
        const cp = checkpatch(dir, join(out, p));
        expect(cp.out, `checkpatch ${p}`).toMatch(/total: 0 errors, 0 warnings, 0 checks/);
        const b = build(dir, v, objs);
        expect(b.code, `build after ${p}: ${b.out.slice(-3000)}`).toBe(0);
      }
      const st = selftestBuild(dir, v, ["set_memory_region_test"]);
      expect(st.code, `selftest build: ${st.out.slice(-3000)}`).toBe(0);

      const policy = `linux-${v}+${flag}`;
      const eq = kspecJson(["check", "--kernel", dir, "--policy", policy, "--json"]);
      expect(eq.json.verdict, JSON.stringify(eq.json.problems)).toBe("equal");
      expect(eq.code).toBe(0);
      const diff = kspecJson(["check", "--kernel", dir, "--policy", `linux-${v}`, "--json"]);
      expect(diff.code).toBe(1);
      expect(diff.json.counterexamples.length).toBeGreaterThan(0);
      for (const c of diff.json.counterexamples) expect(c.inputs.slotFlag, JSON.stringify(c)).toBe(true);
    },
    20 * 60_000,
  );
});

describe("kspec gen: determinism and bad arguments", () => {
  it("gives the same bytes twice", () => {
    const [a, b] = [join(tmp(), "a"), join(tmp(), "b")];
    for (const o of [a, b])
      expect(
        kspec(["gen", "--kernel", treeDir("6.12"), "--policy", "mem-wc", "--flag", "mem-wc", "--out", o])
          .code,
      ).toBe(0);
    const names = readdirSync(a).sort();
    expect(readdirSync(b).sort()).toEqual(names);
    for (const n of names) expect(readFileSync(join(b, n), "utf8")).toBe(readFileSync(join(a, n), "utf8"));
  });

  it("without --signoff there is no Signed-off-by and the author is a placeholder; --signoff needs an identity", () => {
    const o = join(tmp(), "s");
    expect(kspec(["gen", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", "--out", o]).code).toBe(
      0,
    );
    for (const f of readdirSync(o)) {
      const t = readFileSync(join(o, f), "utf8");
      expect(t).not.toContain("Signed-off-by:");
      expect(t).toMatch(/^From: kspec draft <draft@kspec\.invalid>$/m);
    }
    const home = tmp();
    const r = kspec(
      [
        "gen",
        "--kernel",
        treeDir("6.12"),
        "--policy",
        "non-coherent-dma",
        "--out",
        join(home, "x"),
        "--signoff",
      ],
      {
        env: { HOME: home, GIT_CONFIG_GLOBAL: join(home, "none"), GIT_CONFIG_NOSYSTEM: "1" },
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^kspec: --signoff needs the git identity the kernel tree's commits would carry/,
    );
    expect(existsSync(join(home, "x"))).toBe(false);
  });

  it("refuses bad arguments with one line, exit 2, and writes nothing", () => {
    const d = tmp();
    const o = join(d, "out");
    const cases: [string[], RegExp][] = [
      [["--policy", "no-such-policy", "--flag", "non-coherent-dma"], /unknown policy 'no-such-policy'/],
      [["--policy", "non-coherent-dma", "--flag", "no-such-flag"], /unknown flag 'no-such-flag'/],
      [
        ["--policy", "mem-wc", "--flag", "non-coherent-dma"],
        /is paired with flag mem-wc, not non-coherent-dma/,
      ],
      [["--policy", "linux-6.12", "--flag", "non-coherent-dma"], /does not read slotFlag/],
    ];
    for (const [args, msg] of cases) {
      const r = kspec(["gen", "--kernel", treeDir("6.12"), "--out", o, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
      expect(existsSync(o)).toBe(false);
    }
    // A tree without the function.
    const fake = join(d, "tree");
    mkdirSync(join(fake, "arch", "x86", "kvm", "vmx"), { recursive: true });
    writeFileSync(join(fake, "Makefile"), "# not a kernel\n");
    writeFileSync(
      join(fake, "arch", "x86", "kvm", "vmx", "vmx.c"),
      "int kspec_test(void)\n{\n\treturn 0;\n}\n",
    );
    const r = kspec([
      "gen",
      "--kernel",
      fake,
      "--policy",
      "non-coherent-dma",
      "--flag",
      "non-coherent-dma",
      "--out",
      o,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/vmx_get_mt_mask\(\) is not defined under arch\/x86\/kvm\//);
    expect(existsSync(o)).toBe(false);
    // An output directory that holds an earlier series (other files do not matter, as for format-patch -o).
    mkdirSync(o);
    writeFileSync(join(o, "keep"), "mine\n");
    writeFileSync(join(o, "0001-earlier.patch"), "an earlier series\n");
    const busy = kspec(["gen", "--kernel", treeDir("6.12"), "--policy", "non-coherent-dma", "--out", o]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(
      /already holds a series \(0001-earlier\.patch\); --force replaces those files/,
    );
    expect(readdirSync(o).sort()).toEqual(["0001-earlier.patch", "keep"]);
    // An output directory inside the kernel tree.
    const inside = kspec([
      "gen",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      "non-coherent-dma",
      "--out",
      join(treeDir("6.12"), "kspec-out"),
    ]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/inside the kernel tree/);
    expect(existsSync(join(treeDir("6.12"), "kspec-out"))).toBe(false);
    rmSync(d, { recursive: true, force: true });
  });
});
