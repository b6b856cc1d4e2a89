// Tests of the cache kept between runs (checker/cache): a warm run answers exactly as a cold one, and any change
// to what the extraction read — a header's text, a new file beside the function, a file created where an
// include was looked for — is noticed. On a partial copy of the Debian 6.12 tree, with real files changed.

import {
  existsSync,
  mkdirSync,
  symlinkSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelTree } from "../kernel/tree.js";
import { partialCopy } from "./helpers/fixtures.js";
import { kspec } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const VMX = "arch/x86/kvm/vmx/vmx.c";
let tree: string;
let cache: string;

function check(extraEnv: NodeJS.ProcessEnv = {}) {
  const r = kspec(["check", "--kernel", tree, "--policy", "linux-6.12"], {
    env: { KSPEC_CACHE: cache, KSPEC_STATS: "1", ...extraEnv },
  });
  const stats = JSON.parse(/kspec-stats (.*)/.exec(r.stderr)![1]).cache as { hits: number; misses: number };
  return { code: r.code, out: r.stdout, stats };
}

describe("the extraction cache", () => {
  beforeAll(() => {
    const src = treeDir("6.12");
    tree = partialCopy(src, { file: VMX, content: readFileSync(join(src, VMX), "utf8") });
    cache = mkdtempSync(join(tmpdir(), "kspec-cache-"));
  });
  afterAll(() => {
    rmSync(tree, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it("a warm run gives the cold run's bytes, without extracting again", () => {
    const cold = check();
    expect(cold.code).toBe(0);
    expect(cold.stats).toMatchObject({ hits: 0, misses: 1 });
    const warm = check();
    expect(warm.stats).toMatchObject({ hits: 1, misses: 0 });
    expect(warm.out).toBe(cold.out);
    expect(warm.code).toBe(0);
  });

  it("a changed header is read again: the new value of VMX_EPT_IPAT_BIT makes the C differ", () => {
    const h = join(tree, "arch/x86/include/asm/vmx.h");
    const text = readFileSync(h, "utf8");
    expect(text).toMatch(/#define VMX_EPT_IPAT_BIT\s/);
    writeFileSync(h, text.replace(/#define VMX_EPT_IPAT_BIT\s+.*/, "#define VMX_EPT_IPAT_BIT (1ull << 5)"));
    const r = check();
    expect(r.stats).toMatchObject({ hits: 0, misses: 1 });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^differs:/);
    writeFileSync(h, text);
    expect(check()).toMatchObject({ code: 0, stats: { misses: 1 } });
  });

  it("a new file beside the function is seen: a second definition makes it not located", () => {
    const extra = join(tree, "arch/x86/kvm/vmx/fork.c");
    writeFileSync(
      extra,
      "u8 vmx_get_mt_mask(struct kvm_vcpu *vcpu, gfn_t gfn, bool is_mmio)\n{\n\treturn 0;\n}\n",
    );
    const r = check();
    expect(r.stats).toMatchObject({ misses: 1 });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/defined 2 times/);
    rmSync(extra);
    expect(check()).toMatchObject({ code: 0 });
  });

  it("a file created where an include was looked for first is seen (it shadows the one found before)", () => {
    // <linux/kvm_host.h> is looked for under arch/x86/include before include/: a file there takes its place.
    const shadow = join(tree, "arch/x86/include/linux/kvm_host.h");
    mkdirSync(join(tree, "arch/x86/include/linux"), { recursive: true });
    writeFileSync(shadow, "#define MTRR_TYPE_WRBACK 4\n");
    const r = check();
    expect(r.stats).toMatchObject({ hits: 0, misses: 1 });
    expect(r.code).not.toBe(0);
    rmSync(join(tree, "arch/x86/include/linux"), { recursive: true });
    expect(check()).toMatchObject({ code: 0 });
  });

  it("KSPEC_CACHE=off keeps nothing", () => {
    const off = mkdtempSync(join(tmpdir(), "kspec-cache-off-"));
    const r = kspec(["check", "--kernel", tree, "--policy", "linux-6.12"], {
      env: { KSPEC_CACHE: "off", HOME: off, XDG_CACHE_HOME: off },
    });
    expect(r.code).toBe(0);
    expect(readdirSync(off)).toEqual([]);
    rmSync(off, { recursive: true });
  });

  it("an unreadable or corrupt entry is a miss, never an error", () => {
    const dir = join(cache, "extract");
    expect(existsSync(dir)).toBe(true);
    for (const f of readdirSync(dir)) writeFileSync(join(dir, f), "{not json");
    const r = check();
    expect(r).toMatchObject({ code: 0, stats: { hits: 0, misses: 1 } });
  });

  it("a file's signature is taken as it is read: a change made after the read is never hidden", () => {
    const dir = mkdtempSync(join(tmpdir(), "kspec-sig-"));
    try {
      writeFileSync(join(dir, "a.h"), "#define A 1\n");
      const t = new KernelTree(dir);
      const before = t.signature("a.h");
      expect(t.bytes("a.h")!.toString()).toBe("#define A 1\n");
      expect(t.signature("a.h")).toBe(before);
      // Changed after this run read it: the run's entry must record what it read, so the next run misses.
      writeFileSync(join(dir, "a.h"), "#define A 22\n");
      expect(t.signature("a.h")).toBe(before);
      expect(new KernelTree(dir).signature("a.h")).not.toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a dangling symlink where an include is looked for is watched itself: creating its target is noticed", () => {
    const src = treeDir("6.12");
    const dir = partialCopy(src, { file: VMX, content: readFileSync(join(src, VMX), "utf8") });
    const cacheDir = mkdtempSync(join(tmpdir(), "kspec-cache-"));
    try {
      // vmx.c's #include "x86.h" is looked for beside it first: there, a link to a file not there yet.
      mkdirSync(join(dir, "kspec-elsewhere"));
      symlinkSync("../../../../kspec-elsewhere/x86.h", join(dir, "arch/x86/kvm/vmx/x86.h"));
      const run = () =>
        kspec(["check", "--kernel", dir, "--policy", "linux-6.12"], {
          env: { KSPEC_CACHE: cacheDir, KSPEC_STATS: "1" },
        });
      expect(run().code).toBe(0);
      writeFileSync(join(dir, "kspec-elsewhere/x86.h"), "#define MTRR_TYPE_WRBACK 5\n");
      const after = run();
      expect(after.stderr).toContain('"misses":1');
      expect(after.code).toBe(2);
      expect(after.stdout).toMatch(/MTRR_TYPE_WRBACK has 2 different definitions/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("a directory's signature is taken before it is listed: a file created while the run reads is noticed", () => {
    const dir = mkdtempSync(join(tmpdir(), "kspec-sig-"));
    try {
      mkdirSync(join(dir, "d"));
      const t = new KernelTree(dir);
      const before = t.signature("d/");
      expect(t.exists("d/a.h")).toBe(false);
      writeFileSync(join(dir, "d/a.h"), "#define A 1\n");
      expect(t.signature("d/")).toBe(before);
      expect(new KernelTree(dir).signature("d/")).not.toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
