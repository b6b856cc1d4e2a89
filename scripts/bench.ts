// Benchmark stage: whole-process times of the everyday commands on the real Debian 6.12 tree, each cold (an
// empty KSPEC_CACHE, as on the first run on a machine) and warm (the cache a previous run left), next to the
// Coccinelle yardstick measured in the same run: spatch locating vmx_get_mt_mask() in vmx.c with a one-rule
// semantic patch that has a python script rule (without one, spatch skips the file in 20 ms). Then tree-sitter
// and node alone; `kspec log` against `git log -L`; and the scaling of `check` with the number of boolean inputs.
// Run with `npm run bench`; nothing here is asserted, only measured.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../spec/root.js";
import { scalingRun } from "./bench-scaling.js";
import { buildHistory, extendHistory } from "./history.js";
import { writeUserPolicy } from "./user-policy.js";

const RUNS = Number(process.env.KSPEC_BENCH_RUNS ?? 15);

function tree(v: string): string {
  return execFileSync("bash", [join(ROOT, "scripts", "kernel-trees.sh"), v], { encoding: "utf8" })
    .trim()
    .split(" ")[1];
}

interface Timing {
  median: number;
  min: number;
  stderr: string;
  stdout: string;
}

/** One command to time: how, and with which cache (cold: a new empty KSPEC_CACHE per run; warm: one, filled). */
interface Task {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  okCodes?: number[];
  cache?: "cold" | "warm";
}

function runOnce(t: Task, cache: string): { dt: number; stderr: string; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(t.cmd, t.args, {
    encoding: "utf8",
    env: { ...process.env, KSPEC_CACHE: cache, ...t.env },
    maxBuffer: 1 << 26,
  });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!(t.okCodes ?? [0]).includes(r.status ?? -1))
    throw new Error(`${t.cmd} ${t.args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return { dt, stderr: r.stderr, stdout: r.stdout };
}

/**
 * Wall-clock seconds of each task, `RUNS` times, in rounds: each round runs every task once, so that a slow
 * moment of the machine weighs on all of them alike, the yardstick included. Each round starts one task further
 * on, so that no task always runs right after the same one (the yardstick's 800 ms of CPU, say). Median and
 * minimum per task.
 */
function timeAll(tasks: readonly Task[]): Timing[] {
  const samples = tasks.map(() => [] as number[]);
  const last = tasks.map(() => ({ stderr: "", stdout: "" }));
  const shared = tasks.map(() => mkdtempSync(join(tmpdir(), "kspec-bench-cache-")));
  tasks.forEach((t, i) => t.cache === "warm" && runOnce(t, shared[i]));
  for (let r = 0; r < RUNS; r++) {
    tasks.forEach((_, k) => {
      const i = (k + r) % tasks.length;
      const t = tasks[i];
      const fresh = t.cache === "warm" ? shared[i] : mkdtempSync(join(tmpdir(), "kspec-bench-cache-"));
      const o = runOnce(t, fresh);
      samples[i].push(o.dt);
      last[i] = o;
      if (fresh !== shared[i]) rmSync(fresh, { recursive: true, force: true });
    });
  }
  for (const d of shared) rmSync(d, { recursive: true, force: true });
  return samples.map((xs, i) => {
    xs.sort((a, b) => a - b);
    return {
      median: xs[Math.floor(xs.length / 2)],
      min: xs[0],
      stderr: last[i].stderr,
      stdout: last[i].stdout,
    };
  });
}

function ms(s: number): string {
  return `${(s * 1000).toFixed(0)} ms`;
}

const kspec = join(ROOT, "bin", "kspec.cjs");
const dir612 = tree("6.12");
const work = mkdtempSync(join(tmpdir(), "kspec-bench-"));
console.log(`kspec benchmarks (${RUNS} runs each, median wall clock, whole process)\n`);
console.log(`Debian 6.12 tree: ${dir612}`);

// The yardstick: spatch with a script rule, timed in the same rounds as every kspec command below.
const spatchOk = spawnSync("spatch", ["--version"], { encoding: "utf8" }).status === 0;
const cocci = join(work, "find.cocci");
writeFileSync(
  cocci,
  `@r@\nidentifier f = vmx_get_mt_mask;\nposition p;\ntype T;\n@@\nT f@p(...) { ... }\n\n@script:python@\np << r.p;\n@@\nprint("%s:%s" % (p[0].file, p[0].line))\n`,
);
const spatchTask: Task = {
  cmd: "spatch",
  args: ["--sp-file", cocci, join(dir612, "arch/x86/kvm/vmx/vmx.c"), "--very-quiet"],
};

const userPolicy = writeUserPolicy(join(work, "my-policy.ts"));
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
    stats: true,
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

const tasks: Task[] = commands.flatMap((c) => [
  {
    cmd: process.execPath,
    args: [kspec, ...c.args],
    cache: "cold" as const,
    env: c.stats ? { KSPEC_STATS: "1" } : {},
  },
  { cmd: process.execPath, args: [kspec, ...c.args], cache: "warm" as const },
]);
const timings = timeAll(spatchOk ? [spatchTask, ...tasks] : tasks);
const spatch = spatchOk ? timings.shift() : undefined;
const ratio = (t: Timing) => (spatch ? `${(t.median / spatch.median).toFixed(2)}x` : "-");
const header = ["command", "cold", "ratio", "warm", "ratio", "goal (cold)"];
const table: string[][] = [];
const parsed = new Set<string>();
const codeCaches = new Map<string, string>();
commands.forEach((c, i) => {
  const [cold, warm] = [timings[2 * i], timings[2 * i + 1]];
  if (c.stats) {
    for (const f of JSON.parse(/kspec-stats (.*)/.exec(cold.stderr)![1]).parsed as string[]) parsed.add(f);
    for (const [k, v] of Object.entries(JSON.parse(/kspec-launch (.*)/.exec(cold.stderr)![1])))
      codeCaches.set(k, v as string);
  }
  table.push([
    c.name,
    ms(cold.median),
    ratio(cold),
    ms(warm.median),
    ratio(warm),
    `<= ${c.goal.toFixed(2)}x`,
  ]);
});

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
const [ts, node] = timeAll([
  { cmd: process.execPath, args: [parseOnly] },
  { cmd: process.execPath, args: ["-e", "0"] },
]);
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
  `files tree-sitter parsed whole during check: ${[...parsed].join(", ") || "none (only byte ranges)"}`,
);
// The build's V8 code caches (cli/launch.cts): "used" unless this Node's V8 or flags differ from the build's.
console.log(`V8 code caches: ${[...codeCaches].map(([k, v]) => `${k} ${v}`).join(", ")}\n`);
console.log(line(header));
for (const r of table) console.log(line(r));

// kspec log over a history of its own making (scripts/history.ts: 16 commits), against git log -L on the same
// repository: the textual history reviewers read today. Then the same history with 120 more commits in the
// shape most of a real history has (edits to the headers the function reads, and to vmx.c elsewhere): the cost
// should follow the commits that change what the function uses, not the commits that touch its files.
{
  const h = buildHistory(dir612);
  const range = `${h.commits.get("base")}..HEAD`;
  const logTimes = (title: string) => {
    const logArgs = [kspec, "log", "--kernel", h.dir, range];
    const [cold, warm, gitL] = timeAll([
      { cmd: process.execPath, args: logArgs, cache: "cold" },
      { cmd: process.execPath, args: logArgs, cache: "warm" },
      { cmd: "git", args: ["-C", h.dir, "log", "-L", ":vmx_get_mt_mask:arch/x86/kvm/vmx/vmx.c", range] },
    ]);
    const read = /(\d+) states read/.exec(cold.stdout)?.[1] ?? "?";
    const r = (t: Timing) => `${(t.median / gitL.median).toFixed(1)}x`;
    console.log(`\n${title}; ${read} states read\n`);
    const rows = [
      ["command", "median", "ratio to git log -L"],
      ["kspec log (cold)", ms(cold.median), r(cold)],
      ["kspec log (warm)", ms(warm.median), r(warm)],
      ["git log -L :vmx_get_mt_mask:arch/x86/kvm/vmx/vmx.c", ms(gitL.median), "1.0x"],
    ];
    const w = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
    for (const x of rows)
      console.log("  " + x.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
  };
  logTimes(
    `kspec log over ${h.commits.size - 1} commits (a repository built from the 6.12 tree), against git log -L`,
  );
  extendHistory(h, 120);
  logTimes(
    `kspec log over ${h.commits.size - 1} commits: the same, and 120 that edit the headers the function reads or vmx.c elsewhere`,
  );
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
