// Benchmark stage: whole-process times of kspec on the real Debian 6.12 tree, next to tree-sitter parsing the
// same files alone and (where installed) Coccinelle locating the same function; then the scaling of `check`
// with the number of boolean inputs, exhaustive enumeration against the path-wise comparison.
// Run with `npm run bench`; nothing here is asserted, only measured.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../spec/root.js";
import { scalingRun } from "./bench-scaling.js";

const RUNS = Number(process.env.KSPEC_BENCH_RUNS ?? 7);

function tree(v: string): string {
  return execFileSync("bash", [join(ROOT, "scripts", "kernel-trees.sh"), v], { encoding: "utf8" })
    .trim()
    .split(" ")[1];
}

/** Wall-clock seconds of a command, `RUNS` times: median and minimum. */
function time(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; okCodes?: number[] } = {}) {
  const samples: number[] = [];
  let last = "";
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, {
      encoding: "utf8",
      env: { ...process.env, ...opts.env },
      maxBuffer: 1 << 26,
    });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!(opts.okCodes ?? [0]).includes(r.status ?? -1))
      throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
    samples.push(dt);
    last = r.stderr;
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], stderr: last };
}

function fmt(s: number): string {
  return `${(s * 1000).toFixed(0).padStart(6)} ms`;
}

const kspec = join(ROOT, "bin", "kspec.js");
const dir612 = tree("6.12");
console.log(`kspec benchmarks (${RUNS} runs each, median / min wall clock, whole process)\n`);
console.log(`Debian 6.12 tree: ${dir612}`);

const check = time(process.execPath, [kspec, "check", "--kernel", dir612, "--policy", "linux-6.12"], {
  env: { KSPEC_STATS: "1" },
});
const parsed: string[] = JSON.parse(/kspec-stats (.*)/.exec(check.stderr)![1]).parsed;
const extractT = time(process.execPath, [kspec, "extract", "--kernel", dir612]);

// tree-sitter alone, in a fresh process, on the files `check` parsed.
const work = mkdtempSync(join(tmpdir(), "kspec-bench-"));
const parseOnly = join(work, "parse-only.mjs");
writeFileSync(
  parseOnly,
  `import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const require = createRequire(${JSON.stringify(join(ROOT, "package.json"))});
const Parser = require("tree-sitter"), C = require("tree-sitter-c");
const p = new Parser(); p.setLanguage(C);
for (const f of ${JSON.stringify(parsed)}) { const t = readFileSync(${JSON.stringify(dir612)} + "/" + f, "utf8"); p.parse((i) => t.slice(i, i + 65536)); }
`,
);
const ts = time(process.execPath, [parseOnly]);
const node = time(process.execPath, ["-e", "0"]);

const rows: [string, ReturnType<typeof time>][] = [
  ["kspec check --policy linux-6.12 (equal)", check],
  ["kspec extract", extractT],
  [`tree-sitter parsing the same ${parsed.length} file(s) alone`, ts],
  ["node startup alone", node],
];

const spatch = spawnSync("spatch", ["--version"], { encoding: "utf8" });
if (spatch.status === 0) {
  const cocci = join(work, "find.cocci");
  writeFileSync(
    cocci,
    `@r@\nidentifier f = vmx_get_mt_mask;\nposition p;\ntype T;\n@@\nT f@p(...) { ... }\n\n@script:python@\np << r.p;\n@@\nprint("%s:%s" % (p[0].file, p[0].line))\n`,
  );
  const sp = time("spatch", ["--sp-file", cocci, join(dir612, "arch/x86/kvm/vmx/vmx.c"), "--very-quiet"]);
  rows.push(["Coccinelle (spatch) locating vmx_get_mt_mask in vmx.c", sp]);
} else {
  rows.push(["Coccinelle (spatch): not installed", { median: NaN, min: NaN, stderr: "" }]);
}
rmSync(work, { recursive: true, force: true });

const w = Math.max(...rows.map((r) => r[0].length));
console.log(`files tree-sitter parsed during check: ${parsed.join(", ")}\n`);
for (const [name, t] of rows)
  console.log(
    `  ${name.padEnd(w)}  ${Number.isNaN(t.median) ? "" : `${fmt(t.median)}  (min ${fmt(t.min).trim()})`}`,
  );

// Scaling: in-process times of the comparison alone (tree parsing and macro lookups are shared).
const ks = [4, 8, 12, 16, 20, 24];
const upTo = Number(process.env.KSPEC_BENCH_EXHAUSTIVE_UP_TO ?? 16);
console.log(
  `\nscaling of check with k boolean inputs (synthetic policy and C, k rules + default; exhaustive up to k=${upTo})\n`,
);
console.log(
  `  ${"k".padStart(3)}  ${"2^k".padStart(9)}  ${"paths".padStart(6)}  ${"exhaustive".padStart(12)}  ${"path-wise".padStart(10)}`,
);
let last: { k: number; s: number } | undefined;
for (const r of scalingRun(dir612, ks, upTo)) {
  // Beyond the measured range, exhaustive time is extrapolated from the last measurement (it doubles per input).
  if (r.exhaustive !== undefined) last = { k: r.k, s: r.exhaustive };
  const ex =
    r.exhaustive !== undefined
      ? `${(r.exhaustive * 1000).toFixed(0)} ms`
      : last
        ? `~${(last.s * 2 ** (r.k - last.k)).toFixed(0)} s est.`
        : "(not run)";
  console.log(
    `  ${String(r.k).padStart(3)}  ${String(2 ** r.k).padStart(9)}  ${String(r.paths).padStart(6)}  ${ex.padStart(12)}  ${`${(r.pathwise * 1000).toFixed(1)} ms`.padStart(10)}`,
  );
}
