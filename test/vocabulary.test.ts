// Tests of the vocabulary's families (quirk:KVM_X86_QUIRK_X, cpu:X86_FEATURE_X, with the named inputs as
// aliases) and of the user's own inputs and spellings bound in kspec.config.json — on fixtures spliced into the
// Debian 6.12 tree, through the CLI. A call or an expression that nothing binds stays unverifiable.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KernelTree } from "../kernel/tree.js";
import { partialCopy, splice } from "./helpers/fixtures.js";
import { kspec, kspecJson, REPO } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const FIX = join(REPO, "test", "fixtures", "vocabulary");
const CONFIG = join(FIX, "kspec.config.json");
const trees = new Map<string, string>();

/** The 6.12 tree with vmx_get_mt_mask() replaced by a fixture's function, on disk (a partial copy). */
function tree(fixture: string): string {
  let d = trees.get(fixture);
  if (!d) {
    const s = splice(new KernelTree(treeDir("6.12")), readFileSync(join(FIX, fixture), "utf8"));
    d = partialCopy(treeDir("6.12"), { file: s.file, content: s.content });
    trees.set(fixture, d);
  }
  return d;
}

afterAll(() => {
  for (const d of trees.values()) rmSync(d, { recursive: true, force: true });
});

describe("families of inputs", () => {
  it("quirk:KVM_X86_QUIRK_X: any quirk the tree defines, tested with kvm_check_has_quirk()", () => {
    const x = kspecJson(["extract", "--kernel", tree("quirk-family-6.12.c"), "--json"]);
    expect(x.json.inputs).toEqual(["isMmio", "quirk:KVM_X86_QUIRK_LINT0_REENABLED"]);
    const r = kspec([
      "check",
      "--kernel",
      tree("quirk-family-6.12.c"),
      "--policy",
      join(FIX, "policies", "quirk-lint0.ts"),
    ]);
    expect(r.stdout).toMatch(/^equal: /);
    expect(r.code).toBe(0);
  });

  it("a family input whose macro the tree does not define is named beside the verdict, with the near names", () => {
    const policy = join(FIX, "policies", "quirk-misspelt.ts");
    const r = kspec(["check", "--kernel", treeDir("6.12"), "--policy", policy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "note: the policy reads quirk:KVM_X86_QUIRK_IGNORE_GUEST_PTA, but KVM_X86_QUIRK_IGNORE_GUEST_PTA is not defined where arch/x86/kvm/vmx/vmx.c can see it, so the C never reads it: did you mean quirk:KVM_X86_QUIRK_IGNORE_GUEST_PAT?",
    );
    const j = kspecJson(["check", "--kernel", treeDir("6.12"), "--policy", policy, "--json"]);
    expect(j.json.notes).toHaveLength(1);
    // A family input the tree does define gets no note.
    const ok = kspecJson([
      "check",
      "--kernel",
      tree("quirk-family-6.12.c"),
      "--policy",
      join(FIX, "policies", "quirk-lint0.ts"),
      "--json",
    ]);
    expect(ok.json.notes).toBeUndefined();
  });

  it("cpu:X86_FEATURE_X: static_cpu_has, boot_cpu_has, cpu_feature_enabled; selfSnoop is cpu:X86_FEATURE_SELFSNOOP", () => {
    const x = kspecJson(["extract", "--kernel", tree("cpu-family-6.12.c"), "--json"]);
    expect(x.json.inputs).toEqual(["isMmio", "selfSnoop", "cpu:X86_FEATURE_HYPERVISOR"]);
    const r = kspec([
      "check",
      "--kernel",
      tree("cpu-family-6.12.c"),
      "--policy",
      join(FIX, "policies", "cpu-hypervisor.ts"),
    ]);
    expect(r.stdout).toMatch(/^equal: /);
  });

  it("the named inputs stay, and their family names are aliases of them", () => {
    const r = kspecJson([
      "check",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      join(FIX, "policies", "alias-6.12.ts"),
      "--json",
    ]);
    expect(r.json.verdict).toBe("equal");
    expect(r.json.inputs).toEqual(["isMmio", "noncoherentDma", "quirkIgnoreGuestPat"]);
  });

  it("a quirk test that names no one macro of the family binds nothing: unverifiable", () => {
    const r = kspecJson(["extract", "--kernel", tree("../c/unverifiable/unknown-quirk-6.12.c"), "--json"]);
    expect(r.code).toBe(2);
    expect(r.json.problems[0]).toMatchObject({ kind: "unmodeled-call", name: "kvm_check_has_quirk" });
  });

  it("a family name whose macro the policy writes but the C does not test is an input like any other", () => {
    const r = kspecJson([
      "check",
      "--kernel",
      treeDir("6.12"),
      "--policy",
      join(FIX, "policies", "quirk-lint0.ts"),
      "--json",
    ]);
    expect(r.json.verdict).toBe("differs");
  });
});

describe("inputs and spellings of the user's (kspec.config.json)", () => {
  it("an input bound to a C shape: matched through a local alias of vcpu->kvm and redundant parentheses", () => {
    const x = kspecJson(["extract", "--kernel", tree("user-input-6.12.c"), "--json", "--config", CONFIG]);
    expect(x.code).toBe(0);
    expect(x.json.inputs).toEqual(["isMmio", "guestMtrr", "iommuAttached"]);
    const r = kspec([
      "check",
      "--kernel",
      tree("user-input-6.12.c"),
      "--policy",
      "iommu",
      "--config",
      CONFIG,
    ]);
    expect(r.stdout).toMatch(/^equal: /);
    expect(r.code).toBe(0);
  });

  it("the config is found from the current directory upwards, and its policies directory names policies", () => {
    const r = kspec(["check", "--kernel", tree("user-input-6.12.c"), "--policy", "iommu"], {
      cwd: join(FIX, "policies"),
    });
    expect(r.stdout).toMatch(/^equal: /);
  });

  it("without the config the same C is unverifiable; with it, C it does not bind stays unverifiable", () => {
    const bare = kspecJson(["extract", "--kernel", tree("user-input-6.12.c"), "--json"]);
    expect(bare.code).toBe(2);
    const other = kspecJson([
      "extract",
      "--kernel",
      tree("user-input-other-field-6.12.c"),
      "--json",
      "--config",
      CONFIG,
    ]);
    expect(other.code).toBe(2);
    expect(other.json.problems[0].kind).toMatch(/unmodeled/);
  });

  it("config errors: one line each with file:line:col, exit 2", () => {
    const d = mkdtempSync(join(tmpdir(), "kspec-config-"));
    const cases: [string, RegExp][] = [
      [
        '{\n  "inputs": {\n    "isMmio": { "c": ["is_mmio"] }\n  }\n}\n',
        /kspec\.config\.json:3:5: 'isMmio' is a built-in input/,
      ],
      ['{\n  "polices": []\n}\n', /kspec\.config\.json:2:3: unknown key 'polices'/],
      [
        '{\n  "inputs": { "x": { "c": ["vcpu->"] } }\n}\n',
        /kspec\.config\.json:2:28: 'vcpu->' is not one C expression/,
      ],
      [
        '{\n  "spellings": { "nosuch": ["f(vcpu)"] }\n}\n',
        /kspec\.config\.json:2:18: 'nosuch' is not a built-in input/,
      ],
      ['{\n  "policies": ["missing-dir"]\n}\n', /kspec\.config\.json:2:16: missing-dir: not a directory/],
      ['{\n  "inputs": {,}\n}\n', /kspec\.config\.json:2:\d+: not JSON/],
      ['{\n  "inputz": {}\n}\n', /kspec\.config\.json:2:3: unknown key 'inputz' \(did you mean inputs\?\)/],
      ['{\n  "inputs": { "x": { "c": [] } }\n}\n', /kspec\.config\.json:2:22: inputs\.x\.c is empty/],
      // C that a built-in input already reads, or that two inputs claim, would be taken from one of them.
      [
        '{\n  "inputs": { "foo": { "c": ["kvm_arch_has_noncoherent_dma(kvm)"] } }\n}\n',
        /kspec\.config\.json:2:30: 'kvm_arch_has_noncoherent_dma\(kvm\)' is C kspec reads as noncoherentDma/,
      ],
      [
        '{\n  "inputs": {\n    "a": { "c": ["vcpu->kvm->arch.x"] },\n    "b": { "c": ["vcpu->kvm->arch.x"] }\n  }\n}\n',
        /kspec\.config\.json:\d+:\d+: 'vcpu->kvm->arch\.x' is bound to both a and b/,
      ],
    ];
    for (const [text, want] of cases) {
      writeFileSync(join(d, "kspec.config.json"), text);
      const r = kspec(["list"], { cwd: d });
      expect(r.code, text).toBe(2);
      expect(r.stderr.trim().split("\n"), text).toHaveLength(1);
      expect(r.stderr, text).toMatch(want);
    }
    rmSync(d, { recursive: true });
  });
});
