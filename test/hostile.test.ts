// Tests of kspec under hostile or careless use, one case per way it was found to do damage or misbehave: each
// asserts the exit code and the one-line message, and that nothing outside the expected output changed (a
// manifest of the parent directory, which holds a hard-link copy of the Debian 6.12 tree, before and after).

import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTwoFilesPatch } from "diff";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitIdentity, sh, worktree } from "./helpers/kernel.js";
import { BIN, kspec, kspecJson, REPO, type Run } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const HOSTILE = join(import.meta.dirname, "fixtures", "hostile");
const SERIES_612 = join(REPO, "out", "linux-6.12", "non-coherent-dma");
const VMX = "arch/x86/kvm/vmx/vmx.c";

/** Every entry under a directory: path, type, size, mtime, inode, link target; a write anywhere changes it. */
function manifest(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const st = lstatSync(join(dir, r));
      const link = d.isSymbolicLink() ? readlinkSync(join(dir, r)) : "";
      out.set(r, `${st.mode} ${st.size} ${st.mtimeMs} ${st.ino} ${link}`);
      if (d.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

/** The paths whose manifest entries differ (added, removed or changed). */
function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

function oneLine(r: Run): string {
  const lines = r.stderr.trim().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0];
}

/** Peak resident memory (KiB) and the run of a command, from GNU time. */
function measured(cmd: string): { code: number; stderr: string; peakKiB: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "kspec-peak %M", "bash", "-c", cmd], {
    encoding: "utf8",
    cwd: REPO,
    maxBuffer: 1 << 26,
  });
  const peak = Number(/kspec-peak (\d+)/.exec(r.stderr)?.[1]);
  // bash -c reports the pipeline's last command's status; the commands below put kspec last.
  const code = Number(/kspec-status (\d+)/.exec(r.stdout)?.[1] ?? r.status);
  const stderr = r.stderr.replace(/.*kspec-peak.*\n?|^Command exited with non-zero status.*\n?/gm, "");
  return { code, stderr, peakKiB: peak };
}

let parent: string;
let linux: string;

beforeAll(() => {
  parent = mkdtempSync(join(tmpdir(), "kspec-hostile-"));
  linux = join(parent, "linux");
  // A hard-link copy: cheap, and a write through any link would show in the manifest (mtime, size).
  const cp = sh("cp", ["-al", treeDir("6.12"), linux]);
  expect(cp.code, cp.out).toBe(0);
  writeFileSync(join(parent, "notes.txt"), "a file of the user's that must survive\n");
}, 600_000);

afterAll(() => {
  if (parent) rmSync(parent, { recursive: true, force: true });
});

/** Runs `fn` and asserts that under the parent directory only `allowed` (paths or prefixes) changed. */
function untouched<T>(allowed: readonly string[], fn: () => T): T {
  const before = manifest(parent);
  const r = fn();
  const diff = changed(before, manifest(parent)).filter(
    (p) => !allowed.some((a) => p === a || p.startsWith(a + "/")),
  );
  expect(diff, "files changed outside the expected output").toEqual([]);
  return r;
}

/** kspec gen of the non-coherent-dma series for a tree (the hard-link copy unless named). */
const gen = (out: string, extra: string[] = [], opts: Parameters<typeof kspec>[1] = {}, kernel = linux) =>
  kspec(
    [
      "gen",
      "--kernel",
      kernel,
      "--policy",
      "non-coherent-dma",
      "--flag",
      "non-coherent-dma",
      "--out",
      out,
      ...extra,
    ],
    opts,
  );

describe("1. gen --out never removes or overwrites what kspec did not write", () => {
  it("an --out that contains the kernel tree is refused, --force or not; nothing changes", () => {
    const r = untouched([], () => gen(parent, ["--force"]));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/--out .* contains the kernel tree .*; choose a directory of its own/);
    expect(existsSync(join(parent, "notes.txt"))).toBe(true);
  });

  it("an --out inside the tree, directly or through a symlink, is refused", () => {
    const r = untouched([], () => gen(join(linux, "Documentation", "kspec")));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/is inside the kernel tree/);
    const link = join(mkdtempSync(join(tmpdir(), "kspec-link-")), "to-tree");
    symlinkSync(join(linux, "Documentation"), link);
    const s = untouched([], () => gen(join(link, "series")));
    expect(s.code).toBe(2);
    expect(oneLine(s)).toMatch(/is inside the kernel tree/);
  });

  it("as git format-patch -o: creates the directory, writes only the series, --force replaces only NNNN-*.patch", () => {
    const out = join(parent, "series");
    mkdirSync(out);
    writeFileSync(join(out, "keep.txt"), "mine\n");
    writeFileSync(join(out, "0009-an-older-series.patch"), "old\n");
    const refused = untouched([], () => gen(out));
    expect(refused.code).toBe(2);
    expect(oneLine(refused)).toMatch(
      /already holds a series \(0009-an-older-series\.patch\); --force replaces/,
    );
    const r = untouched(["series"], () => gen(out, ["--force"]));
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toContain("keep.txt");
    expect(files).not.toContain("0009-an-older-series.patch");
    expect(files.filter((f) => /^\d{4}-/.test(f))).toHaveLength(6);
    expect(readFileSync(join(out, "keep.txt"), "utf8")).toBe("mine\n");
    // A new directory is created, as format-patch -o does.
    const fresh = join(parent, "fresh", "deeper");
    expect(untouched(["fresh"], () => gen(fresh)).code).toBe(0);
    expect(readdirSync(fresh)).toHaveLength(6);
  });
});

describe("2. a symlink in the tree never lets kspec read outside it", () => {
  let tree: string;
  beforeAll(() => {
    // A second hard-link copy whose arch/x86/include/asm is a symlink to a doctored copy outside the tree.
    tree = join(parent, "linked");
    expect(sh("cp", ["-al", treeDir("6.12"), tree]).code).toBe(0);
    const outside = join(mkdtempSync(join(tmpdir(), "kspec-outside-")), "asm");
    expect(sh("cp", ["-r", join(treeDir("6.12"), "arch/x86/include/asm"), outside]).code).toBe(0);
    const vmxh = join(outside, "vmx.h");
    writeFileSync(
      vmxh,
      readFileSync(vmxh, "utf8").replace(/(#define VMX_EPT_IPAT_BIT\s+).*/, "$1(1ull << 5)"),
    );
    rmSync(join(tree, "arch/x86/include/asm"), { recursive: true });
    symlinkSync(outside, join(tree, "arch/x86/include/asm"));
  }, 600_000);

  // check on such a tree: test/fixtures/trees/symlink-outside.json.
  it("verify-patch refuses a patch to a file beyond the symlink", () => {
    const f = join(mkdtempSync(join(tmpdir(), "kspec-h-")), "p.patch");
    writeFileSync(
      f,
      "diff --git a/arch/x86/include/asm/vmx.h b/arch/x86/include/asm/vmx.h\n--- a/arch/x86/include/asm/vmx.h\n+++ b/arch/x86/include/asm/vmx.h\n@@ -1 +1,2 @@\n /* SPDX-License-Identifier: GPL-2.0 */\n+/* x */\n",
    );
    const r = untouched([], () => kspec(["verify-patch", "--kernel", tree, "--policy", "linux-6.12", f]));
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(
      /arch\/x86\/include\/asm is a symlink to .* outside the kernel tree \[symlink-outside-tree\]/,
    );
  });
});

describe("3. inputs are read only up to their limit", () => {
  it("an endless standard input stops at 8 MiB, in bounded memory", () => {
    const r = measured(
      `yes | node ${BIN} verify-patch --kernel ${linux} --policy linux-6.12 -; echo kspec-status $? >&1`,
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("kspec: <stdin>: larger than the 8 MiB limit");
    expect(r.peakKiB).toBeLessThan(400 << 10);
  });

  it("a 100 MB file is refused without being read", () => {
    const f = join(mkdtempSync(join(tmpdir(), "kspec-h-")), "huge.patch");
    writeFileSync(f, "");
    expect(sh("truncate", ["-s", "100M", f]).code).toBe(0);
    const r = measured(`node ${BIN} verify-patch --kernel ${linux} --policy linux-6.12 ${f}`);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/huge\.patch: larger than the 8 MiB limit$/);
    expect(r.peakKiB).toBeLessThan(300 << 10);
  });
});

describe("4. a reader that goes away", () => {
  it("ends the process quietly with the result's exit code", () => {
    for (const [args, code] of [
      ["eval --policy linux-6.1", 0],
      [`check --kernel ${linux} --policy linux-6.1`, 1],
    ] as const) {
      const r = spawnSync(
        "bash",
        ["-c", `node ${BIN} ${args} | head -1 >/dev/null; echo \${PIPESTATUS[0]}`],
        {
          encoding: "utf8",
        },
      );
      expect(r.stdout.trim()).toBe(String(code));
      expect(r.stderr).toBe("");
    }
  });
});

describe("5. prose that would inject C or end a commit message is refused where it is written", () => {
  it("'*/' in a rule's why: file:line:col, exit 2, nothing written", () => {
    const out = join(parent, "injected");
    const fixture = join(HOSTILE, "comment-closer.ts");
    const r = untouched([], () =>
      kspec(["gen", "--kernel", linux, "--policy", fixture, "--flag", "non-coherent-dma", "--out", out]),
    );
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(
      /comment-closer\.ts:18:\d+: 'insert\.0\.rules\.0\.why' contains '\*\/' \(it would close the generated C comment\) \[unsafe-text\]/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it("a line that git am would take for the start of a patch", () => {
    const r = kspec(["eval", "--policy", join(HOSTILE, "patch-break.ts")]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/patch-break\.ts:7:\d+: 'summary' contains '---'.*\[unsafe-text\]/);
  });
});

describe("6. --signoff signs with the kernel tree's git identity", () => {
  it("the tree's own user.name/user.email, not the current directory's", () => {
    const { dir } = worktree("6.12", "hostile");
    const out = join(mkdtempSync(join(tmpdir(), "kspec-h-")), "series");
    const elsewhere = mkdtempSync(join(tmpdir(), "kspec-cwd-"));
    // kernel-git.sh gives the tree's repository the identity kspec <kspec@invalid>; the user's is another.
    const r = gen(
      out,
      ["--signoff"],
      { cwd: elsewhere, env: gitIdentity("Someone Else", "someone@example.org") },
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const p = readFileSync(join(out, readdirSync(out).sort()[1]), "utf8");
    expect(p).toContain("Signed-off-by: kspec <kspec@invalid>");
    expect(p).not.toContain("Someone Else");
    expect(sh("git", ["status", "--porcelain"], { cwd: dir }).stdout).toBe("");
  });

  it("no identity at all: a clear error, exit 2, nothing written", () => {
    const out = join(parent, "unsigned");
    const r = untouched([], () =>
      gen(out, ["--signoff"], {
        env: { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
      }),
    );
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(/--signoff needs the git identity .* set user\.name and user\.email/);
  });
});

describe("7. sync reports every pair, bad ones included", () => {
  it("one line and one JSON entry per pair; SARIF has one run per tree; the worst exit", () => {
    const d = mkdtempSync(join(tmpdir(), "kspec-h-"));
    const config = join(d, "kspec.sync.json");
    writeFileSync(
      config,
      JSON.stringify({
        pairs: [
          { kernel: join(d, "no-such-tree"), policy: "linux-6.1" },
          { kernel: treeDir("6.1"), policy: "linux-6.7" },
          { kernel: treeDir("6.12"), policy: "no-such-policy" },
          { kernel: treeDir("6.12"), policy: "linux-6.1" },
        ],
      }),
    );
    const t = kspec(["sync", "--config", config]);
    expect(t.code).toBe(2);
    const lines = t.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(["error", "differs", "error", "differs", "4"]);
    expect(lines[0]).toMatch(/^error\s+pairs\[0\] linux-6\.1 .*not a directory/);
    expect(lines[2]).toMatch(/^error\s+pairs\[2\] no-such-policy .*unknown policy 'no-such-policy'/);
    expect(lines[4]).toBe("4 pairs: 0 equal, 2 differ, 0 unverifiable, 2 errors");

    const j = kspecJson(["sync", "--config", config, "--json"]);
    expect(j.code).toBe(2);
    expect(j.json.results.map((r: any) => r.verdict)).toEqual(["error", "differs", "error", "differs"]);
    expect(j.json.results[2]).toMatchObject({ index: 2, verdict: "error" });

    const s = kspecJson(["sync", "--config", config, "--sarif"]);
    expect(s.code).toBe(2);
    expect(s.json.runs).toHaveLength(3);
    for (const run of s.json.runs) {
      const base = run.originalUriBaseIds.KERNEL.uri;
      for (const res of run.results) {
        const loc = res.locations?.[0]?.physicalLocation;
        if (!loc) {
          expect(res.ruleId).toBe("kspec/error");
          continue;
        }
        // Every location resolves to a line of a file in its own run's tree.
        const file = join(fileURLToPath(base), loc.artifactLocation.uri);
        const text = readFileSync(file, "utf8").split("\n");
        expect(text.length).toBeGreaterThanOrEqual(loc.region.startLine);
        expect(text[loc.region.startLine - 1]).toMatch(/return/);
      }
    }
  });
});

describe("8. policies of any size stay bounded", () => {
  const d = mkdtempSync(join(tmpdir(), "kspec-big-"));
  const policy = (name: string, rules: string[]) => {
    const f = join(d, `${name}.ts`);
    writeFileSync(
      f,
      `export default definePolicy({ name: "${name}", source: "generated", rules: [\n${rules.join("\n")}\n], default: { type: "WB", ipat: true } });\n`,
    );
    return f;
  };

  it("eval refuses a table over 2^16 rows with one line that points to explain and check", () => {
    const f = policy(
      "twenty",
      Array.from(
        { length: 20 },
        (_, i) =>
          `{ name: "c${i}", when: { "config:CONFIG_X${i}": true }, then: { type: "UC", ipat: false }, overrides: "*" },`,
      ),
    );
    const r = measured(`node --max-old-space-size=256 ${BIN} eval --policy ${f}`);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(
      /has more than 65536 rows \(20 inputs\), over eval's limit: kspec explain and kspec check/,
    );
    // The same policy explained path-wise.
    expect(kspec(["explain", "--policy", f]).code).toBe(0);
  });

  it("1000 rules validate, each error one line naming at most three covering rules", () => {
    const f = policy(
      "many",
      Array.from(
        { length: 1000 },
        (_, i) =>
          `{ name: "r${i}", when: { isMmio: ${i % 2 === 1}, noncoherentDma: ${i % 3 !== 0} }, then: { type: "UC", ipat: false } },`,
      ),
    );
    const r = kspec(["eval", "--policy", f]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(996); // r0..r3 cover the four cases; every later rule is unreachable
    for (const l of lines) {
      expect(l).toMatch(/\[unreachable-rule\]$/);
      expect(l.length).toBeLessThan(250);
      expect((l.match(/'r\d+' \(line/g) ?? []).length).toBeLessThanOrEqual(3);
    }
    expect(lines[lines.length - 1]).toMatch(/'r999' can never fire: the earlier rules .* and \d+ more cover/);
  });
});

describe("9. verify-patch refuses symlinks and type changes", () => {
  for (const [name, what] of [
    ["adds-symlink.patch", "a symlink"],
    ["file-to-symlink.patch", "a symlink"],
  ]) {
    it(name, () => {
      const r = untouched([], () =>
        kspec(["verify-patch", "--kernel", linux, "--policy", "linux-6.12", join(HOSTILE, name)]),
      );
      expect(r.code).toBe(2);
      expect(oneLine(r)).toMatch(new RegExp(`${name}:\\d+: ${what} is not supported`));
    });
  }
});

describe("10. an interrupted verify-patch leaves no temporary files", () => {
  for (const [signal, status] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    it(`${signal}`, async () => {
      const tmp = mkdtempSync(join(tmpdir(), "kspec-tmpdir-"));
      // An mbox of many small patches: git mailinfo runs once per message, so the directory lives for seconds.
      const one = readFileSync(join(SERIES_612, readdirSync(SERIES_612).sort()[4]), "utf8");
      const mbox = join(tmp, "..", `${tmp.split("/").pop()}.mbox`);
      writeFileSync(mbox, Array.from({ length: Math.floor((7 << 20) / one.length) }, () => one).join(""));
      const child = spawn(
        process.execPath,
        [BIN, "verify-patch", "--kernel", linux, "--policy", "linux-6.12", mbox],
        {
          env: { ...process.env, TMPDIR: tmp },
          stdio: "ignore",
        },
      );
      const exited = new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
      const mailDirs = () => readdirSync(tmp).filter((f) => f.startsWith("kspec-mail-"));
      for (let i = 0; i < 400 && mailDirs().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(mailDirs()).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 300));
      child.kill(signal);
      expect(await exited).toBe(status);
      expect(readdirSync(tmp)).toEqual([]);
    });
  }
});

describe("11. bad output and config paths are bad input, not internal errors", () => {
  const d = mkdtempSync(join(tmpdir(), "kspec-h-"));
  const file = join(d, "a-file");
  writeFileSync(file, "x\n");
  const cases: [string, () => Run, RegExp][] = [
    ["gen --out /proc/kspec", () => gen("/proc/kspec"), /^kspec: cannot create \/proc\/kspec: /],
    ["gen --out an existing file", () => gen(file), /--out .*a-file exists and is not a directory/],
    [
      "import --out a directory",
      () => kspec(["import", "--kernel", linux, "--name", "x", "--out", d, "--force"]),
      /cannot write .*: is a directory/,
    ],
    ["sync --config a directory", () => kspec(["sync", "--config", d]), /cannot read .*: not a regular file/],
  ];
  for (const [name, run, msg] of cases) {
    it(name, () => {
      const r = untouched([], run);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLine(r)).toMatch(msg);
    });
  }
});

describe("12. a series with a hole, or a step that cannot be checked", () => {
  const patches = readdirSync(SERIES_612)
    .filter((f) => !f.startsWith("0000"))
    .sort()
    .map((f) => join(SERIES_612, f));

  it("[PATCH 2/5] missing between 1/5 and 3/5 is named; nothing is renumbered", () => {
    const r = kspec([
      "verify-patch",
      "--kernel",
      linux,
      "--policy",
      "non-coherent-dma",
      patches[0],
      patches[2],
      patches[3],
    ]);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toBe("kspec: [PATCH 2/5] is missing from the series (got 1, 3, 4 of 5)");
  });

  it("a step after which the function cannot be extracted is not 'consistent'", () => {
    const before = readFileSync(join(linux, VMX), "utf8");
    const broken = before.replace("\tif (is_mmio)\n", "\tdo {} while (0);\n\tif (is_mmio)\n");
    expect(broken).not.toBe(before);
    const mail = (n: number, subject: string, a: string, b: string) =>
      `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A Developer <dev@example.org>\nSubject: [PATCH ${n}/2] ${subject}\n\nA test of a step kspec cannot model.\n---\ndiff --git a/${VMX} b/${VMX}\n` +
      createTwoFilesPatch(`a/${VMX}`, `b/${VMX}`, a, b, "", "")
        .replace(/^(Index|=).*\n/gm, "")
        .replace(/^={3,}\n/m, "");
    const d = mkdtempSync(join(tmpdir(), "kspec-h-"));
    writeFileSync(join(d, "1.patch"), mail(1, "KVM: VMX: Add a loop", before, broken));
    writeFileSync(join(d, "2.patch"), mail(2, "KVM: VMX: Remove the loop", broken, before));
    const r = kspec([
      "verify-patch",
      "--kernel",
      linux,
      "--policy",
      "linux-6.12",
      join(d, "1.patch"),
      join(d, "2.patch"),
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toContain("NOT CHECKED: vmx_get_mt_mask() cannot be extracted after this patch");
    expect(r.stdout).toMatch(/do-while loop is not modeled \[unmodeled-construct/);
    expect(r.stdout).toContain("not checked (function not extractable): patch 1");
    expect(r.stdout).not.toContain("every step consistent");
  });
});

interface TreeFixture {
  about: string;
  make: {
    symlinkDir?: string;
    outsideEdit?: { file: string; find: string; replace: string };
    oversize?: string;
    bytes?: number;
    edit?: { file: string; find: string; replace: string };
  };
  policy: string;
  expect: { kind: string; name: string };
}

describe("tree fixtures: trees kspec must refuse to read, or cannot find the function in", () => {
  const dir = join(import.meta.dirname, "fixtures", "trees");
  for (const name of readdirSync(dir).sort()) {
    it(name, () => {
      const fx: TreeFixture = JSON.parse(readFileSync(join(dir, name), "utf8"));
      const tree = join(parent, `tree-${name.replace(/\.json$/, "")}`);
      expect(sh("cp", ["-al", treeDir("6.12"), tree]).code).toBe(0);
      const m = fx.make;
      // Files are replaced, never written through: the copy shares its inodes with the cached tree.
      if (m.symlinkDir) {
        const outside = join(mkdtempSync(join(tmpdir(), "kspec-outside-")), "dir");
        expect(sh("cp", ["-r", join(treeDir("6.12"), m.symlinkDir), outside]).code).toBe(0);
        if (m.outsideEdit) {
          const f = join(outside, m.outsideEdit.file);
          writeFileSync(f, readFileSync(f, "utf8").replace(m.outsideEdit.find, m.outsideEdit.replace));
        }
        rmSync(join(tree, m.symlinkDir), { recursive: true });
        symlinkSync(outside, join(tree, m.symlinkDir));
      }
      if (m.oversize) {
        rmSync(join(tree, m.oversize));
        writeFileSync(join(tree, m.oversize), "");
        expect(sh("truncate", ["-s", String(m.bytes), join(tree, m.oversize)]).code).toBe(0);
      }
      if (m.edit) {
        const f = join(tree, m.edit.file);
        const text = readFileSync(f, "utf8");
        expect(text).toContain(m.edit.find);
        rmSync(f);
        writeFileSync(f, text.replace(m.edit.find, m.edit.replace));
      }
      const r = kspecJson(["check", "--kernel", tree, "--policy", fx.policy, "--json"]);
      expect(r.code).toBe(2);
      expect(r.json.verdict).toBe("unverifiable");
      expect(r.json.problems).toContainEqual(
        expect.objectContaining({ kind: fx.expect.kind, name: fx.expect.name }),
      );
      rmSync(tree, { recursive: true, force: true });
    });
  }
});
