// Benchmark stage: how `check` scales with the number of boolean inputs. Synthetic policies and matching C with
// k inputs (config:CONFIG_KSPEC_BENCH_i, read through #ifdef in the C), checked two ways: exhaustively, every
// assignment of the k inputs enumerated up front (2^k runs), and by paths, inputs assigned only as the C and
// the policy ask for them (the comparison kspec uses: time grows with the number of paths).

import { checkFunction } from "../checker/check.js";
import { Preprocessor } from "../kernel/cpp.js";
import { locateFunction } from "../kernel/locate.js";
import { Interpreter } from "../checker/interp.js";
import { KernelTree } from "../kernel/tree.js";
import type { Policy, Rule } from "../spec/ir.js";

const TYPES = [
  ["MTRR_TYPE_UNCACHABLE", 0],
  ["MTRR_TYPE_WRCOMB", 1],
  ["MTRR_TYPE_WRTHROUGH", 4],
  ["MTRR_TYPE_WRPROT", 5],
  ["MTRR_TYPE_WRBACK", 6],
] as const;

/** k rules "CONFIG_KSPEC_BENCH_i set -> type i mod 5, IPAT on odd i", first match wins, then a default. */
export function synthetic(k: number): { c: string; policy: Policy } {
  const loc = { file: "bench", line: 1, col: 1 };
  const rules: Rule[] = [];
  const body: string[] = [];
  for (let i = 0; i < k; i++) {
    const [macro, code] = TYPES[i % TYPES.length];
    const ipat = i % 2 === 1;
    rules.push({
      name: `r${i}`,
      when: [{ input: `config:CONFIG_KSPEC_BENCH_${i}`, values: [true] }],
      then: { type: { kind: "const", code }, ipat },
      overrides: "*",
      loc,
      origin: "bench",
    });
    body.push(
      `#ifdef CONFIG_KSPEC_BENCH_${i}`,
      `\treturn (${macro} << VMX_EPT_MT_EPTE_SHIFT)${ipat ? " | VMX_EPT_IPAT_BIT" : ""};`,
      "#endif",
    );
  }
  const c = `u8 vmx_get_mt_mask(struct kvm_vcpu *vcpu, gfn_t gfn, bool is_mmio)\n{\n${body.join("\n")}\n\treturn MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT;\n}`;
  return {
    c,
    policy: {
      name: `bench-${k}`,
      source: "synthetic",
      rules,
      default: { type: { kind: "const", code: 6 }, ipat: false, loc, origin: "bench" },
    },
  };
}

export function scalingRun(
  treeDir: string,
  ks: readonly number[],
  exhaustiveUpTo: number,
): { k: number; paths: number; exhaustive?: number; pathwise: number }[] {
  const base = new KernelTree(treeDir);
  const loc = locateFunction(base, "vmx_get_mt_mask");
  const src = base.read(loc.info.file)!;
  const pp = new Preprocessor(base, loc.info.file);
  const rows = [];
  for (const k of ks) {
    const { c, policy } = synthetic(k);
    const tree = base.withOverlay(
      new Map([[loc.info.file, src.slice(0, loc.node.startIndex) + c + src.slice(loc.node.endIndex)]]),
    );
    const located = locateFunction(tree, "vmx_get_mt_mask");
    const interp = () => new Interpreter(tree, pp, located, { flagMacros: [] });
    // The best of three runs: the first of a process pays for JIT compilation.
    const time = (f: () => void, runs = 3) => {
      let best = Infinity;
      for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint();
        f();
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return best;
    };
    let paths = 0;
    const pathwise = time(() => {
      const v = checkFunction(interp(), loc.info, policy);
      if (v.verdict !== "equal")
        throw new Error(
          `bench k=${k}: ${v.verdict} ${JSON.stringify(v.verdict === "unverifiable" ? v.problems : "")}`,
        );
      paths = v.paths;
    });
    const inputs = Array.from({ length: k }, (_, i) => `config:CONFIG_KSPEC_BENCH_${i}`);
    const exhaustive =
      k <= exhaustiveUpTo
        ? time(
            () => {
              const v = checkFunction(interp(), loc.info, policy, { eager: inputs });
              if (v.verdict !== "equal") throw new Error(`bench k=${k} exhaustive: ${v.verdict}`);
            },
            k >= 14 ? 1 : 3,
          )
        : undefined;
    rows.push({ k, paths, exhaustive, pathwise });
  }
  return rows;
}
