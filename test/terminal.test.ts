// Tests of what kspec does on a terminal and off it: colour marks differs and unverifiable only on a terminal and
// never with NO_COLOR or TERM=dumb; progress lines go to standard error on a terminal only, never beside --json.
// A real pseudo-terminal comes from util-linux's script(1), so isatty() is what a user's shell gives.

import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, kspec, REPO } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const ESC = "\x1b[";
const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** kspec run on a pseudo-terminal (stdout and stderr both), with `redirect` appended to the command line. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv = {}, redirect = ""): string {
  const cmd = [process.execPath, BIN, ...args].map(quote).join(" ") + redirect;
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, TERM: "xterm", NO_COLOR: "", ...env },
  });
  expect(r.status, r.stderr).not.toBeNull();
  return r.stdout;
}

const SERIES = join(REPO, "out", "linux-6.12", "non-coherent-dma");
const series = () =>
  readdirSync(SERIES)
    .sort()
    .map((f) => join(SERIES, f));
const differs = () => ["check", "--kernel", treeDir("6.12"), "--policy", "linux-6.1"];
const unverifiable = () => [
  "check",
  "--kernel",
  treeDir("6.12"),
  "--policy",
  "linux-6.12",
  "--function",
  "nope",
];

describe("colour", () => {
  it("differs in red and unverifiable in yellow on a terminal; equal stays plain", () => {
    expect(onTerminal(differs())).toContain(`${ESC}31mdiffers${ESC}0m: vmx_get_mt_mask()`);
    expect(onTerminal(unverifiable())).toContain(`${ESC}33munverifiable${ESC}0m:`);
    const eq = onTerminal(["check", "--kernel", treeDir("6.12"), "--policy", "linux-6.12"]);
    expect(eq).toMatch(/^equal: /);
    expect(eq).not.toContain(ESC);
  });

  it("never with NO_COLOR, TERM=dumb, or when the output is not a terminal", () => {
    expect(onTerminal(differs(), { NO_COLOR: "1" })).not.toContain(ESC);
    expect(onTerminal(differs(), { TERM: "dumb" })).not.toContain(ESC);
    const piped = kspec(differs());
    expect(piped.code).toBe(1);
    expect(piped.stdout).toMatch(/^differs: /);
    expect(piped.stdout + piped.stderr).not.toContain(ESC);
  });
});

describe("progress", () => {
  const now = { KSPEC_PROGRESS_AFTER_MS: "0" };
  const verify = (extra: string[] = []) => [
    "verify-patch",
    "--kernel",
    treeDir("6.12"),
    "--policy",
    "non-coherent-dma",
    ...extra,
    ...series(),
  ];

  it("on a terminal, one line per step on standard error, erased before the report", () => {
    const t = onTerminal(verify(), now);
    expect(t).toContain("kspec: applying 1/5: KVM: Add the KVM_MEM_NON_COHERENT_DMA memslot flag");
    expect(t).toContain("kspec: checking 5/5: ");
    expect(t).toContain("kspec: checking the end state against ");
    expect(t).toMatch(/\r\x1b\[Kverify-patch: 5 patches/);
    // With standard error sent elsewhere the progress is gone: it was never on standard output.
    const noErr = onTerminal(verify(), now, " 2>/dev/null");
    expect(noErr).not.toContain("kspec: applying");
    expect(noErr).toContain("verify-patch: 5 patches");
  });

  it("never with --json or --sarif, never off a terminal, and not for a run shorter than a second", () => {
    for (const extra of [["--json"], ["--sarif"]]) {
      const t = onTerminal(verify(extra), now);
      expect(t).not.toContain("kspec: ");
      expect(t).not.toContain(ESC);
      expect(t.trimStart()).toMatch(/^\{/);
    }
    const piped = kspec(verify(), { env: now });
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe("");
    expect(onTerminal(["list"])).not.toContain("kspec: ");
  });
});
