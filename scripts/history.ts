// History stage (tests and benchmarks): a git history of vmx_get_mt_mask(), built from the Debian 6.12 tree (the
// files the checker reads: arch/x86/kvm, the include closure of vmx.c, the Makefile) and a sequence of commits
// written here — new meanings of the function (kspec's C fixtures), comment-only changes, unrelated files, a
// header constant and its revert, a helper change, a commit that makes the function unreadable and its fix.
// The tests of `kspec log` assert on it; `npm run bench` times `kspec log` and `git log -L` on it.

import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Preprocessor } from "../kernel/cpp.js";
import { KernelTree } from "../kernel/tree.js";
import { ROOT } from "../spec/root.js";

const VMX = "arch/x86/kvm/vmx/vmx.c";
const VMX_H = "arch/x86/include/asm/vmx.h";

export interface History {
  dir: string;
  /** The commits by name, in the order they were made. */
  commits: Map<string, string>;
  /** Names of the commits that change what the function computes, or whether it can be read. */
  meaningful: string[];
}

/** A fixture's function text (the comment lines at its top are the fixture's own header, not C). */
function fixtureFunction(name: string): string {
  const text = readFileSync(join(ROOT, "test", "fixtures", "c", name), "utf8");
  return text.slice(text.indexOf("u8 vmx_get_mt_mask("));
}

/** The text of vmx_get_mt_mask() in a vmx.c text: from its head to the closing brace at the start of a line. */
function functionSpan(src: string): [number, number] {
  const start = src.indexOf("u8 vmx_get_mt_mask(struct kvm_vcpu *vcpu");
  const end = src.indexOf("\n}\n", start) + 3;
  if (start < 0 || end < 3) throw new Error("vmx_get_mt_mask() not found in the test history's vmx.c");
  return [start, end];
}

/**
 * A temporary directory holding the files of a tree the checker reads for a function in `file` (its directory
 * tree under arch/x86/kvm, the include closure, the Makefile), with `replace` written over one of them.
 */
export function partialTree(
  treeDir: string,
  file: string,
  replace?: { file: string; content: string },
): string {
  const tree = new KernelTree(treeDir);
  const dest = mkdtempSync(join(tmpdir(), "kspec-tree-"));
  const files = new Set<string>(["Makefile", ...tree.list("arch/x86/kvm", () => true)]);
  for (const f of new Preprocessor(tree, file).includeClosure()) files.add(f);
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(treeDir, f), join(dest, f));
  }
  if (replace) writeFileSync(join(dest, replace.file), replace.content);
  return dest;
}

/** git in a repository, with a fixed identity and date (the same history, the same commit ids). */
function gitIn(dir: string): (...args: string[]) => string {
  return (...args: string[]) => {
    const p = spawnSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_AUTHOR_NAME: "Test Author",
        GIT_AUTHOR_EMAIL: "author@example.org",
        GIT_AUTHOR_DATE: "2024-01-01T00:00:00+0000",
        GIT_COMMITTER_NAME: "Test Author",
        GIT_COMMITTER_EMAIL: "author@example.org",
        GIT_COMMITTER_DATE: "2024-01-01T00:00:00+0000",
      },
    });
    if (p.status !== 0) throw new Error(`git ${args.join(" ")}: ${p.stdout}${p.stderr}`);
    return p.stdout.trim();
  };
}

/** The history, in a new temporary repository made from the Debian 6.12 tree at `treeDir612`. */
export function buildHistory(treeDir612: string): History {
  const dir = partialTree(treeDir612, VMX);
  const git = gitIn(dir);
  const commits = new Map<string, string>();
  const commit = (name: string, subject: string) => {
    git("add", "-A");
    git("commit", "-q", "--allow-empty", "-m", subject);
    commits.set(name, git("rev-parse", "HEAD"));
  };
  const edit = (file: string, f: (t: string) => string) => {
    const p = join(dir, file);
    mkdirSync(dirname(p), { recursive: true });
    let before = "";
    try {
      before = readFileSync(p, "utf8");
    } catch {
      // a new file
    }
    const after = f(before);
    if (after === before) throw new Error(`edit of ${file} changed nothing`);
    writeFileSync(p, after);
  };
  const setFunction = (text: string) =>
    edit(VMX, (t) => {
      const [a, b] = functionSpan(t);
      return t.slice(0, a) + text + t.slice(b);
    });
  const original = (() => {
    const t = readFileSync(join(dir, VMX), "utf8");
    const [a, b] = functionSpan(t);
    return t.slice(a, b);
  })();
  const ipat = /#define VMX_EPT_IPAT_BIT\s+.*/;

  git("init", "-q", "-b", "main");
  commit("base", "Import a subset of Debian linux-source-6.12");
  edit(VMX, (t) =>
    t.replace(
      "\t/* Force WB if ignoring guest PAT */",
      "\t/* Force WB if ignoring guest PAT (see the SDM) */",
    ),
  );
  commit("comment", "KVM: VMX: Reword a comment in vmx_get_mt_mask()");
  edit("Documentation/kspec-notes.txt", () => "Notes unrelated to the function.\n");
  commit("unrelated", "Documentation: Add notes");
  edit("arch/x86/kvm/svm/svm.c", (t) => t.replace("#include", "/* An SVM change. */\n#include"));
  commit("svm", "KVM: SVM: Touch a file beside the function");
  edit(VMX_H, (t) => t.replace(ipat, "#define VMX_EPT_IPAT_BIT    \t\t(1ull << 5)"));
  commit("ipat-bit", "KVM: VMX: Move the IPAT bit (a header constant only)");
  git("revert", "--no-edit", "HEAD");
  commits.set("ipat-revert", git("rev-parse", "HEAD"));
  setFunction(fixtureFunction("fail/mmio-wb-6.12.c"));
  commit("mmio-wb", "KVM: VMX: Map MMIO write-back");
  setFunction(fixtureFunction("pass/inlined-helper-6.12.c"));
  commit("mmio-uc", "KVM: VMX: Map MMIO uncached again, with the helper written out");
  setFunction(original);
  commit("equivalent", "KVM: VMX: Use vmx_ignore_guest_pat() again (no functional change)");
  edit(VMX, (t) => t.replace("\tif (is_mmio)\n", "\tif (is_mmio && kspec_unknown_check(vcpu))\n"));
  commit("unreadable", "KVM: VMX: Consult a new check for MMIO");
  edit(VMX, (t) => t.replace("\tif (is_mmio && kspec_unknown_check(vcpu))\n", "\tif (is_mmio)\n"));
  commit("readable", "KVM: VMX: Drop the new check again");
  edit(VMX, (t) =>
    t.replace(
      "\treturn !kvm_arch_has_noncoherent_dma(kvm) &&\n\t       kvm_check_has_quirk",
      "\treturn kvm_check_has_quirk",
    ),
  );
  commit("helper", "KVM: VMX: Ignore guest PAT whatever the DMA (a helper change)");
  git("revert", "--no-edit", "HEAD");
  commits.set("helper-revert", git("rev-parse", "HEAD"));
  edit(VMX_H, (t) => t.replace(ipat, (m) => `/* The ignore-PAT bit of an EPT entry. */\n${m}`));
  commit("header-comment", "KVM: VMX: Comment the IPAT bit");
  edit(VMX, (t) =>
    t.replace(
      "\treturn (MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT);\n}",
      "\treturn (MTRR_TYPE_WRBACK  << VMX_EPT_MT_EPTE_SHIFT);\n}",
    ),
  );
  commit("whitespace", "KVM: VMX: Whitespace");
  edit("virt/kvm/kspec-unrelated.c", () => "/* unrelated */\n");
  commit("unrelated-2", "KVM: Add an unrelated file");
  return {
    dir,
    commits,
    meaningful: [
      "ipat-bit",
      "ipat-revert",
      "mmio-wb",
      "mmio-uc",
      "unreadable",
      "readable",
      "helper",
      "helper-revert",
    ],
  };
}

/**
 * `count` more commits on top of a history, in the shape most of a real one has: each edits a header of the
 * function's include closure (a comment at its end), every sixth one vmx.c after its last function — files the
 * function reads, in changes that leave what it computes alone.
 */
export function extendHistory(h: History, count: number): void {
  const git = gitIn(h.dir);
  const headers = new Preprocessor(new KernelTree(h.dir), VMX).includeClosure().filter((f) => f !== VMX);
  for (let i = 0; i < count; i++) {
    const file = i % 6 === 0 ? VMX : headers[(i * 7919) % headers.length];
    appendFileSync(join(h.dir, file), `/* A change (${i}) beside what the function uses. */\n`);
    git("commit", "-q", "-a", "-m", `Change ${i} to ${file}`);
    h.commits.set(`extra-${i}`, git("rev-parse", "HEAD"));
  }
}
