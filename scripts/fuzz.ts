// Evidence stage: fuzzing the checker. Random token-level and tree-level mutations of the real vmx_get_mt_mask()
// of both Debian trees and of the C fixtures, checked in memory: kspec must never crash, never run away, and
// never answer `equal` for a function whose gcc-compiled table (the oracle of scripts/mutate.ts) differs from
// the tree's own. Bounded in count and time; a seeded generator makes every run reproducible.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkFunction } from "../checker/check.js";
import { Preprocessor } from "../kernel/cpp.js";
import { locateFunction } from "../kernel/locate.js";
import { Interpreter } from "../checker/interp.js";
import { parseC } from "../kernel/parse.js";
import { findFunctions } from "../kernel/locate.js";
import { KernelTree } from "../kernel/tree.js";
import { InputError } from "../spec/errors.js";
import { resolvePolicy } from "../spec/resolve.js";
import { ROOT } from "../spec/root.js";
import { collectGarbage, compactUnit, mutants, oracle } from "./mutate.js";

/** mulberry32: small, seedable, good enough to spread mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKEN = /[A-Za-z_]\w*|\d\w*|<<=|>>=|->|&&|\|\||<<|>>|[<>=!]=|[-+*/%&|^~!<>=?:;,.(){}[\]#]|\s+|./g;
const NOISE = [
  "(",
  ")",
  "{",
  "}",
  ";",
  "!",
  "~",
  "|",
  "&",
  "<<",
  "0",
  "1",
  "7",
  "goto exit;",
  "else",
  "switch (is_mmio)",
  "while (1)",
  "return 0;",
  "#ifdef CONFIG_KSPEC_FUZZ\n",
  "\n#endif\n",
  "sizeof(int)",
  "vcpu->arch.cr0",
  "slot",
  "*",
];

/** One random token-level edit of `fn` (the function's text). */
function tokenEdit(fn: string, r: () => number): string {
  const toks = fn.match(TOKEN) ?? [];
  const idx = () => Math.floor(r() * toks.length);
  const real = toks.map((t, i) => [t, i] as const).filter(([t]) => t.trim() !== "");
  const pick = () => real[Math.floor(r() * real.length)][1];
  switch (Math.floor(r() * 6)) {
    case 0:
      toks.splice(pick(), 1);
      break;
    case 1: {
      const i = pick();
      toks.splice(i, 0, toks[i]);
      break;
    }
    case 2: {
      const i = pick();
      const j = real.find(([, k]) => k > i)?.[1];
      if (j !== undefined) [toks[i], toks[j]] = [toks[j], toks[i]];
      break;
    }
    case 3: {
      const ids = real.filter(([t]) => /^[A-Za-z_]/.test(t)).map(([t]) => t);
      const i = pick();
      if (/^[A-Za-z_]/.test(toks[i]) && ids.length) toks[i] = ids[Math.floor(r() * ids.length)];
      break;
    }
    case 4: {
      const i = pick();
      if (/^\d/.test(toks[i])) toks[i] = String(Math.floor(r() * 70));
      else toks.splice(i, 0, " ", NOISE[Math.floor(r() * NOISE.length)], " ");
      break;
    }
    default:
      toks.splice(idx(), 0, " ", NOISE[Math.floor(r() * NOISE.length)], " ");
  }
  return toks.join("");
}

export interface FuzzReport {
  cases: number;
  seconds: number;
  verdicts: Record<string, number>;
  oracleChecked: number;
  crashes: { seed: string; error: string; file: string }[];
  unsound: { seed: string; file: string }[];
  slowestMs: number;
}

interface Seed {
  name: string;
  tree: KernelTree;
  file: string;
  text: string;
  policy: string;
  /** gcc's table of the tree's own function (which equals the tree's policy). */
  reference: number[];
  pp: Preprocessor;
}

function seeds(trees: [string, string][], fixtures: string, work: string): Seed[] {
  const out: Seed[] = [];
  for (const [v, dir] of trees) {
    const tree = new KernelTree(dir);
    const loc = locateFunction(tree, "vmx_get_mt_mask");
    const full = tree.read(loc.info.file)!;
    const text = compactUnit(full);
    const pp = new Preprocessor(tree, loc.info.file);
    const reference = oracle(text, work);
    if (!reference) throw new Error(`the ${v} function does not compile in the oracle harness`);
    out.push({ name: `linux-${v}`, tree, file: loc.info.file, text, policy: `linux-${v}`, reference, pp });
    for (const cat of ["pass", "fail", "unverifiable"]) {
      for (const f of readdirSync(join(fixtures, cat)).sort()) {
        const fx = readFileSync(join(fixtures, cat, f), "utf8");
        if (!new RegExp(`^// kspec-fixture tree=${v.replace(".", "\\.")}$`, "m").test(fx)) continue;
        const spliced = compactUnit(full.slice(0, loc.node.startIndex) + fx + full.slice(loc.node.endIndex));
        out.push({
          name: `${cat}/${f}`,
          tree,
          file: loc.info.file,
          text: spliced,
          policy: `linux-${v}`,
          reference,
          pp,
        });
      }
    }
  }
  return out;
}

export async function fuzz(opts: {
  count: number;
  seconds: number;
  seed: number;
  failures?: string;
}): Promise<FuzzReport> {
  const trees = execFileSync("bash", [join(ROOT, "scripts", "kernel-trees.sh")], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.split(" ") as [string, string]);
  const work = mkdtempSync(join(tmpdir(), "kspec-fuzz-"));
  const report: FuzzReport = {
    cases: 0,
    seconds: 0,
    verdicts: {},
    oracleChecked: 0,
    crashes: [],
    unsound: [],
    slowestMs: 0,
  };
  const t0 = Date.now();
  try {
    const all = seeds(trees, join(ROOT, "test", "fixtures", "c"), work);
    const policies = new Map(
      await Promise.all(
        [...new Set(all.map((s) => s.policy))].map(async (p) => [p, await resolvePolicy(p)] as const),
      ),
    );
    for (let n = 0; n < opts.count && Date.now() - t0 < opts.seconds * 1000; n++) {
      collectGarbage(n);
      const caseSeed = `${opts.seed}:${n}`;
      const r = rng(opts.seed * 1_000_003 + n);
      const s = all[Math.floor(r() * all.length)];
      // The function's text within the file, mutated by 1-3 edits of either kind.
      let text = s.text;
      const edits = 1 + Math.floor(r() * 3);
      for (let e = 0; e < edits; e++) {
        if (r() < 0.5) {
          const ms = mutants(text);
          if (ms.length) text = ms[Math.floor(r() * ms.length)].text;
        } else {
          const fn = findFunctions(parseC(text).rootNode, "vmx_get_mt_mask")[0];
          if (!fn) break;
          text = text.slice(0, fn.startIndex) + tokenEdit(fn.text, r) + text.slice(fn.endIndex);
        }
      }
      report.cases++;
      const started = Date.now();
      let verdict: string;
      try {
        const tree = s.tree.withOverlay(new Map([[s.file, text]]));
        const loc = locateFunction(tree, "vmx_get_mt_mask");
        const v = checkFunction(
          new Interpreter(tree, s.pp, loc, { flagMacros: [] }),
          loc.info,
          policies.get(s.policy)!,
          { maxLeaves: 1 << 16 },
        );
        verdict = v.verdict;
        if (v.verdict === "equal") {
          const table = oracle(text, work);
          if (table) {
            report.oracleChecked++;
            if (table.some((x, i) => x !== s.reference[i]))
              report.unsound.push({ seed: caseSeed, file: save(opts.failures, caseSeed, text) });
          }
        }
      } catch (e) {
        if (e instanceof InputError) verdict = "bad-input";
        else {
          verdict = "crash";
          report.crashes.push({
            seed: caseSeed,
            error: String((e as Error).stack ?? e)
              .split("\n")
              .slice(0, 3)
              .join(" | "),
            file: save(opts.failures, caseSeed, text),
          });
        }
      }
      report.verdicts[verdict] = (report.verdicts[verdict] ?? 0) + 1;
      report.slowestMs = Math.max(report.slowestMs, Date.now() - started);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  report.seconds = (Date.now() - t0) / 1000;
  return report;
}

/** A failing input kept for turning into a fixture. */
function save(dir: string | undefined, seed: string, text: string): string {
  if (!dir) return "";
  mkdirSync(dir, { recursive: true });
  const f = join(dir, `fuzz-${seed.replace(/:/g, "-")}.c`);
  writeFileSync(f, text);
  return f;
}

export function describeFuzz(r: FuzzReport): string {
  return [
    `fuzz: ${r.cases} cases in ${r.seconds.toFixed(1)} s (slowest ${r.slowestMs} ms)`,
    `  verdicts: ${Object.entries(r.verdicts)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  equal answers checked against the gcc oracle: ${r.oracleChecked}`,
    `  crashes: ${r.crashes.length}${r.crashes.map((c) => `\n    ${c.seed}: ${c.error} ${c.file}`).join("")}`,
    `  equal where the oracle differs: ${r.unsound.length}${r.unsound.map((c) => `\n    ${c.seed} ${c.file}`).join("")}`,
  ].join("\n");
}

if (process.argv[1]?.endsWith("fuzz.js")) {
  const { values } = parseArgs({
    options: { count: { type: "string" }, seconds: { type: "string" }, seed: { type: "string" } },
  });
  const r = await fuzz({
    count: Number(values.count ?? 2000),
    seconds: Number(values.seconds ?? 300),
    seed: Number(values.seed ?? 1),
    failures: join(process.cwd(), "fuzz-failures"),
  });
  console.log(describeFuzz(r));
  process.exitCode = r.crashes.length || r.unsound.length ? 1 : 0;
}
