// Tests of kspec as a package: npm pack gives a tarball that installs into another project and runs there without
// building; a policy file there imports definePolicy from "kspec", tsc checks it (input names and values, and a
// project input declared by declaration merging), and npx kspec check reads it through that project's
// kspec.config.json. Also: --version, kspec init, one help line per option, "did you mean".

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_NAMES, commands, help } from "../cli/main.js";
import { kspec, REPO } from "./helpers/run.js";
import { treeDir } from "./helpers/trees.js";

const VERSION = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version as string;
const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");

describe("the package, installed elsewhere", () => {
  let project: string;
  const run = (cmd: string, args: string[]) =>
    spawnSync(cmd, args, { cwd: project, encoding: "utf8", env: { ...process.env, npm_config_yes: "true" } });

  beforeAll(() => {
    const work = mkdtempSync(join(tmpdir(), "kspec-pack-"));
    // The tree was built by `npm test`; the tarball carries dist/, so nothing is built where it is installed.
    const out = execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--silent"], {
      cwd: REPO,
      encoding: "utf8",
    }).trim();
    const tarball = join(work, out.split("\n").pop()!);
    project = join(work, "my-policies");
    mkdirSync(join(project, "policies"), { recursive: true });
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "my-policies", private: true, type: "module" }),
    );
    const i = run("npm", [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      tarball,
    ]);
    if (i.status !== 0) throw new Error(`npm install ${tarball}: ${i.stdout}${i.stderr}`);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        include: ["policies"],
      }),
    );
    writeFileSync(
      join(project, "kspec.config.json"),
      JSON.stringify({
        policies: ["policies"],
        inputs: { hostIsHypervisor: { c: ["boot_cpu_has(X86_FEATURE_HYPERVISOR)"] } },
      }),
    );
  }, 600_000);
  afterAll(() => rmSync(join(project, ".."), { recursive: true, force: true }));

  it("npx kspec --version names the package's version", () => {
    const r = run("npx", ["kspec", "--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`kspec ${VERSION}\n`);
  });

  it('a policy that imports from "kspec" type-checks, declaring a project input; npx kspec check reads it', () => {
    writeFileSync(
      join(project, "policies", "mine.ts"),
      `import { definePolicy } from "kspec";

declare module "kspec" {
  interface KspecInputs {
    hostIsHypervisor: boolean;
  }
}

export default definePolicy({
  name: "mine",
  source: "a project of its own",
  rules: [
    { name: "mmio", when: { isMmio: true }, then: { type: "UC", ipat: false }, overrides: "*" },
    {
      name: "ignore-guest-pat",
      when: { noncoherentDma: false, "quirk:KVM_X86_QUIRK_IGNORE_GUEST_PAT": true },
      then: { type: "WB", ipat: true },
    },
  ],
  default: { type: "WB", ipat: false },
});
`,
    );
    const tsc = run(process.execPath, [TSC, "-p", "."]);
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.status).toBe(0);
    const r = run("npx", ["kspec", "check", "--kernel", treeDir("6.12"), "--policy", "mine"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(
      /^equal: vmx_get_mt_mask\(\) at arch\/x86\/kvm\/vmx\/vmx.c:\d+ computes policy mine\n/,
    );
    expect(r.status).toBe(0);
  });

  it("tsc rejects a misspelt input and a value outside an input's domain", () => {
    writeFileSync(
      join(project, "policies", "typo.ts"),
      `import { definePolicy } from "kspec";
export default definePolicy({
  name: "typo",
  source: "x",
  rules: [{ name: "a", when: { isMmo: true }, then: { type: "UC", ipat: false } },
          { name: "b", when: { guestMtrr: "UC-" }, then: { type: "WB", ipat: false } }],
  default: { type: "WB", ipat: false },
});
`,
    );
    const tsc = run(process.execPath, [TSC, "-p", "."]);
    rmSync(join(project, "policies", "typo.ts"));
    expect(tsc.status).not.toBe(0);
    expect(tsc.stdout).toMatch(/typo\.ts\(5,\d+\): error TS\d+: .*'isMmo'/);
    expect(tsc.stdout).toMatch(/typo\.ts\(6,\d+\): error TS\d+: .*"UC-"/);
  });
});

describe("command-line habits", () => {
  it("--version and -V print package.json's version", () => {
    for (const flag of ["--version", "-V"]) {
      const r = kspec([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`kspec ${VERSION}\n`);
    }
  });

  it("every option of every command has one line of help", async () => {
    for (const c of await commands()) {
      const lines = help(c).split("\n");
      const opts = lines.slice(lines.indexOf("options:") + 1, lines.indexOf("", lines.indexOf("options:")));
      expect(opts.length, c.name).toBe(Object.keys(c.options).length + 2); // + --config, --help
      for (const l of opts)
        expect(l, `${c.name}: ${l}`).toMatch(/^ {2}--\S+( [A-Z]+)?( \(repeatable\))? {2,}\S/);
    }
    expect(COMMAND_NAMES).toContain("init");
  });

  it("did you mean: commands, options, policies and flags", () => {
    expect(kspec(["chek"]).stderr).toMatch(/unknown command 'chek' \(did you mean check\?\)/);
    expect(kspec(["check", "--polcy", "x"]).stderr).toMatch(
      /Unknown option '--polcy'.*did you mean --policy\?/,
    );
    expect(kspec(["eval", "--policy", "linux-6.21"]).stderr).toMatch(
      /unknown policy 'linux-6.21' \(did you mean linux-6\.1\?\)/,
    );
    expect(
      kspec(["check", "--kernel", treeDir("6.12"), "--policy", "linux-6.12", "--flag", "non-coherent-dm"])
        .stderr,
    ).toMatch(/did you mean non-coherent-dma\?/);
    // A mistyped tree: the directories beside it.
    const typo = join(treeDir("6.1"), "..", "linux-source-6.l");
    expect(kspec(["check", "--kernel", typo, "--policy", "linux-6.1"]).stderr).toBe(
      `kspec: not a directory: ${typo} (did you mean linux-source-6.1?)\n`,
    );
  });

  it("kspec init writes a config and a policy, and never over an existing file", () => {
    const d = mkdtempSync(join(tmpdir(), "kspec-init-"));
    const r = kspec(["init"], { cwd: d });
    expect(r.code).toBe(0);
    expect(readdirSync(d).sort()).toEqual(["kspec.config.json", "policies"]);
    const c = kspec(["check", "--kernel", treeDir("6.12"), "--policy", "my-policy"], { cwd: d });
    expect(c.stdout).toMatch(/^equal: /);
    // A policy is found by its name: field too, when no file is called so.
    writeFileSync(
      join(d, "policies", "other.ts"),
      readFileSync(join(d, "policies", "my-policy.ts"), "utf8").replace(
        'name: "my-policy"',
        'name: "renamed"',
      ),
    );
    expect(kspec(["eval", "--policy", "renamed"], { cwd: d }).stdout).toMatch(/^policy renamed: /);
    rmSync(join(d, "policies", "other.ts"));
    // kspec list shows the project's policies first, with their files.
    expect(kspec(["list"], { cwd: d }).stdout.split("\n")[1]).toMatch(
      /^policy\s+my-policy\s+.*\[policies\/my-policy\.ts\]$/,
    );
    const before = readFileSync(join(d, "policies", "my-policy.ts"), "utf8");
    writeFileSync(join(d, "policies", "my-policy.ts"), before + "// mine\n");
    const again = kspec(["init"], { cwd: d });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/my-policy\.ts exist: kspec init writes over nothing/);
    expect(readFileSync(join(d, "policies", "my-policy.ts"), "utf8")).toBe(before + "// mine\n");
    // Below a project, init says that the new config hides the one further up.
    const sub = join(d, "sub");
    mkdirSync(sub);
    const nested = kspec(["init"], { cwd: sub });
    expect(nested.code).toBe(0);
    expect(nested.stderr).toMatch(
      /note: .*kspec\.config\.json is further up; from .*sub down, the new config is the one read/,
    );
    // --config names where the config goes; the policies directory goes beside it.
    const named = kspec(["init", "--config", "deep/k.json"], { cwd: sub });
    expect(named.code, named.stderr).toBe(0);
    expect(readdirSync(join(sub, "deep")).sort()).toEqual(["k.json", "policies"]);
    rmSync(d, { recursive: true });
  });
});
