// Build stage: trains the V8 code caches of the bundle (dist/kspec.cjs.v8cache) and of the packages cli/launch.cts
// loads with one (tree-sitter, @babel/parser). The bundle is loaded as the installed command loads it and runs
// check on a small tree written here, once with a built-in policy and once with a policy file of the user's own;
// V8 then serializes every function those runs compiled, so that a user's first check (and the functions other
// commands share with it) starts from bytecode. A cache is only ever a start: V8 compiles what it lacks, and
// rejects it under another V8 or other flags.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { writeFileAtomic, type Io } from "../cli/io.js";
import { launch } from "../cli/launch.cjs";
import { writeUserPolicy } from "./user-policy.js";

/**
 * A kernel tree of six files, in the shape check reads: the Makefile that marks a tree, vmx.c with the function
 * as 6.12 has it, and the headers its constants come from through <asm/...>, "..." and uapi includes.
 */
const TREE: Record<string, string> = {
  Makefile: "VERSION = 6\nPATCHLEVEL = 12\n",
  "arch/x86/kvm/vmx/vmx.c": `#include <asm/vmx.h>
#include <asm/mtrr.h>
#include "../x86.h"

u8 vmx_get_mt_mask(struct kvm_vcpu *vcpu, gfn_t gfn, bool is_mmio)
{
	if (is_mmio)
		return MTRR_TYPE_UNCACHABLE << VMX_EPT_MT_EPTE_SHIFT;

	if (!kvm_arch_has_noncoherent_dma(vcpu->kvm) &&
	    kvm_check_has_quirk(vcpu->kvm, KVM_X86_QUIRK_IGNORE_GUEST_PAT))
		return (MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT;

	return MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT;
}
`,
  "arch/x86/kvm/x86.h": "#include <asm/kvm.h>\n",
  "arch/x86/include/asm/vmx.h":
    "#define VMX_EPT_MT_EPTE_SHIFT\t\t3\n#define VMX_EPT_IPAT_BIT\t\t(1ull << 6)\n",
  "arch/x86/include/asm/mtrr.h": "#include <uapi/asm/mtrr.h>\n",
  "arch/x86/include/uapi/asm/mtrr.h": "#define MTRR_TYPE_UNCACHABLE 0\n#define MTRR_TYPE_WRBACK     6\n",
  "arch/x86/include/uapi/asm/kvm.h": "#define KVM_X86_QUIRK_IGNORE_GUEST_PAT\t(1 << 9)\n",
};

const work = mkdtempSync(join(tmpdir(), "kspec-code-cache-"));
try {
  const tree = join(work, "linux");
  for (const [path, text] of Object.entries(TREE)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  const policy = writeUserPolicy(join(work, "my-policy.ts"));
  // The runs keep their results in a cache of their own (its code is trained too), never in the user's.
  process.env.KSPEC_CACHE = join(work, "cache");
  const { main, compiled } = launch();
  let err = "";
  const io: Io = {
    out: () => {},
    err: (t) => void (err += t),
    paint: (_, t) => t,
    progress: () => {},
    done: () => {},
  };
  for (const p of ["linux-6.12", policy]) {
    const code = await main(["check", "--kernel", tree, "--policy", p], io);
    // The training must run what users run: a check that fails here trains the wrong functions.
    if (code !== 0) throw new Error(`code cache: check --policy ${p} exited ${code}: ${err}`);
  }
  // The bundle's, tree-sitter's, and @babel/parser's (the user's policy file loaded it).
  for (const c of compiled)
    writeFileAtomic(c.cacheFile, Buffer.concat([c.identity, c.script.createCachedData()]));
} catch (e) {
  // kspec works without a cache (V8 compiles as it goes): a failed training must not fail an install. The tests
  // fail instead (test/launch.test.ts expects every cache used after a build).
  console.error(`kspec build: no code cache made: ${(e as Error).message}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
