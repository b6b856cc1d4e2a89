// Benchmark stage: whole-process times of the everyday commands on the real Debian 6.12 tree, each cold (an
// empty KSPEC_CACHE, as on the first run on a machine) and warm (the cache a previous run left), next to the
// Coccinelle yardstick measured in the same run: spatch locating vmx_get_mt_mask() in vmx.c with a one-rule
// semantic patch that has a python script rule (without one, spatch skips the file in 20 ms). Then tree-sitter
// and node alone; `kspec log` against `git log -L`; and the scaling of `check` with the number of boolean inputs.
// Run with `npm run bench`; nothing here is asserted, only measured.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../spec/root.js";
import { scalingRun } from "./bench-scaling.js";
import { buildHistory } from "./history.js";

const RUNS = Number(process.env.KSPEC_BENCH_RUNS ?? 7);

function tree(v: string): string {
  return execFileSync("bash", [join(ROOT, "scripts", "kernel-trees.sh"), v], { encoding: "utf8" })
    .trim()
    .split(" ")[1];
}

interface Timing {
  median: number;
  min: number;
  stderr: string;
}

/**
 * Wall-clock seconds of a command, `RUNS` times: median and minimum. `fresh`: a new empty KSPEC_CACHE for
 * every run (cold); otherwise one cache shared by the runs, filled by an untimed run first (warm).
 */
function time(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; okCodes?: number[]; cache?: "cold" | "warm" } = {},
): Timing {
  const samples: number[] = [];
  let last = "";
  const shared = mkdtempSync(join(tmpdir(), "kspec-bench-cache-"));
  const once = (cache: string) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, {
      encoding: "utf8",
      env: { ...process.env, KSPEC_CACHE: cache, ...opts.env },
      maxBuffer: 1 << 26,
    });
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!(opts.okCodes ?? [0]).includes(r.status ?? -1))
      throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
    last = r.stderr;
    return dt;
  };
  if (opts.cache === "warm") once(shared);
  for (let i = 0; i < RUNS; i++) {
    if (opts.cache === "warm") samples.push(once(shared));
    else {
      const fresh = mkdtempSync(join(tmpdir(), "kspec-bench-cache-"));
      samples.push(once(fresh));
      rmSync(fresh, { recursive: true, force: true });
    }
  }
  rmSync(shared, { recursive: true, force: true });
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], stderr: last };
}

function ms(s: number): string {
  return `${(s * 1000).toFixed(0)} ms`;
}

const kspec = join(ROOT, "bin", "kspec.js");
const dir612 = tree("6.12");
const work = mkdtempSync(join(tmpdir(), "kspec-bench-"));
console.log(`kspec benchmarks (${RUNS} runs each, median wall clock, whole process)\n`);
console.log(`Debian 6.12 tree: ${dir612}`);

// The yardstick first, so that each ratio below is to this run's Coccinelle.
const spatchOk = spawnSync("spatch", ["--version"], { encoding: "utf8" }).status === 0;
let spatch: Timing | undefined;
if (spatchOk) {
  const cocci = join(work, "find.cocci");
  writeFileSync(
    cocci,
    `@r@\nidentifier f = vmx_get_mt_mask;\nposition p;\ntype T;\n@@\nT f@p(...) { ... }\n\n@script:python@\np << r.p;\n@@\nprint("%s:%s" % (p[0].file, p[0].line))\n`,
  );
  spatch = time("spatch", ["--sp-file", cocci, join(dir612, "arch/x86/kvm/vmx/vmx.c"), "--very-quiet"]);
}

// A policy file of the user's own: the built-in 6.12 policy's text, outside kspec (read by the parser, not the
// build-time cache).
const userPolicy = join(work, "my-policy.ts");
writeFileSync(
  userPolicy,
  readFileSync(join(ROOT, "spec", "policies", "linux-6.12.ts"), "utf8").replace(
    /from "\.\.\/dsl\.js"/,
    `from ${JSON.stringify(join(ROOT, "spec", "dsl.js"))}`,
  ),
);
const seriesDir = join(ROOT, "out", "linux-6.12", "non-coherent-dma");
const series = readdirSync(seriesDir)
  .filter((f) => /^\d{4}-/.test(f) && !f.startsWith("0000-"))
  .sort()
  .map((f) => join(seriesDir, f));

const commands: { name: string; args: string[]; goal: number; stats?: boolean }[] = [
  {
    name: "check (built-in policy)",
    args: ["check", "--kernel", dir612, "--policy", "linux-6.12"],
    goal: 0.25,
    stats: true,
  },
  {
    name: "check (a policy file of the user's)",
    args: ["check", "--kernel", dir612, "--policy", userPolicy],
    goal: 0.3,
  },
  {
    name: `verify-patch (the ${series.length}-patch series)`,
    args: ["verify-patch", "--kernel", dir612, "--policy", "linux-6.12+non-coherent-dma", ...series],
    goal: 1.0,
  },
  {
    name: "gen (that series)",
    args: ["gen", "--kernel", dir612, "--policy", "non-coherent-dma", "--out", join(work, "gen"), "--force"],
    goal: 1.0,
  },
  { name: "extract", args: ["extract", "--kernel", dir612], goal: 0.25 },
];

const ratio = (t: Timing) => (spatch ? `${(t.median / spatch.median).toFixed(2)}x` : "-");
const header = ["command", "cold", "ratio", "warm", "ratio", "goal (cold)"];
const table: string[][] = [];
let parsed: string[] = [];
for (const c of commands) {
  const cold = time(process.execPath, [kspec, ...c.args], {
    cache: "cold",
    env: c.stats ? { KSPEC_STATS: "1" } : {},
  });
  const warm = time(process.execPath, [kspec, ...c.args], { cache: "warm" });
  if (c.stats) parsed = JSON.parse(/kspec-stats (.*)/.exec(cold.stderr)![1]).parsed;
  table.push([
    c.name,
    ms(cold.median),
    ratio(cold),
    ms(warm.median),
    ratio(warm),
    `<= ${c.goal.toFixed(2)}x`,
  ]);
}

// The floor the issue names: node starting and tree-sitter parsing vmx.c, in a fresh process; node alone.
const parseOnly = join(work, "parse-only.mjs");
writeFileSync(
  parseOnly,
  `import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const require = createRequire(${JSON.stringify(join(ROOT, "package.json"))});
const Parser = require("tree-sitter"), C = require("tree-sitter-c");
const p = new Parser(); p.setLanguage(C);
const t = readFileSync(${JSON.stringify(join(dir612, "arch/x86/kvm/vmx/vmx.c"))}, "utf8"); p.parse((i) => t.slice(i, i + 65536));
`,
);
const ts = time(process.execPath, [parseOnly]);
const node = time(process.execPath, ["-e", "0"]);
table.push([
  "node starting and tree-sitter parsing vmx.c whole, alone",
  ms(ts.median),
  ratio(ts),
  "",
  "",
  "",
]);
table.push(["node startup alone", ms(node.median), ratio(node), "", "", ""]);
table.push([
  spatch
    ? "Coccinelle (spatch) locating vmx_get_mt_mask in vmx.c: the yardstick"
    : "Coccinelle (spatch): not installed",
  spatch ? ms(spatch.median) : "",
  spatch ? "1.00x" : "",
  "",
  "",
  "",
]);
rmSync(work, { recursive: true, force: true });

const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (r: string[]) =>
  "  " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(
  `files tree-sitter parsed whole during check: ${parsed.join(", ") || "none (only byte ranges)"}\n`,
);
console.log(line(header));
for (const r of table) console.log(line(r));

// kspec log over a history of its own making (scripts/history.ts: 16 commits), against git log -L on the same
// repository: the textual history reviewers read today.
{
  const h = buildHistory(dir612);
  const range = `${h.commits.get("base")}..HEAD`;
  const logArgs = [kspec, "log", "--kernel", h.dir, range];
  const cold = time(process.execPath, logArgs, { cache: "cold" });
  const warm = time(process.execPath, logArgs, { cache: "warm" });
  const gitL = time("git", ["-C", h.dir, "log", "-L", ":vmx_get_mt_mask:arch/x86/kvm/vmx/vmx.c", range]);
  const r = (t: Timing) => `${(t.median / gitL.median).toFixed(1)}x`;
  const commits = h.commits.size - 1;
  console.log(
    `\nkspec log over ${commits} commits (a repository built from the 6.12 tree), against git log -L\n`,
  );
  const rows = [
    ["command", "median", "ratio to git log -L"],
    [`kspec log ${"(cold)"}`, ms(cold.median), r(cold)],
    ["kspec log (warm)", ms(warm.median), r(warm)],
    ["git log -L :vmx_get_mt_mask:arch/x86/kvm/vmx/vmx.c", ms(gitL.median), "1.0x"],
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
  for (const x of rows)
    console.log("  " + x.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
  rmSync(h.dir, { recursive: true, force: true });
}

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
