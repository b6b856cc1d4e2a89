// Command stage: `kspec gen` — the patch series for a policy and memslot flag against a kernel tree.

import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { InputError } from "../../spec/errors.js";
import { builtinFlags, loadFlag } from "../../spec/flags.js";
import { loadPart, resolvePolicy, splitExpression } from "../../spec/resolve.js";
import { generate } from "../../generator/series.js";
import { importTree } from "../../checker/import.js";
import { DRAFT_AUTHOR, formatSeries, type Identity } from "../../generator/patch.js";
import { str, type Command } from "../command.js";
import { VERSION } from "../version.js";
import { kernelTree } from "../kernel.js";
import { refuseNearTree, seriesTarget, writeSeriesFiles } from "../io.js";

/** The identity git would use for a commit in the kernel tree: its own config first, then the user's. */
function gitIdentity(tree: string): Identity {
  const get = (k: string) => {
    try {
      return execFileSync("git", ["-C", tree, "config", "--get", k], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return "";
    }
  };
  const name = get("user.name");
  const email = get("user.email");
  if (!name || !email)
    throw new InputError(
      `--signoff needs the git identity the kernel tree's commits would carry: set user.name and user.email (git -C ${tree} config, or git config --global)`,
    );
  return { name, email };
}

/** HEAD of the kernel tree when it is a clean git work tree of its own; otherwise no base-commit can be claimed. */
function baseCommit(dir: string): string | undefined {
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  try {
    if (realpathSync(git("rev-parse", "--show-toplevel")) !== realpathSync(dir)) return undefined;
    if (git("status", "--porcelain", "--untracked-files=no") !== "") return undefined;
    return git("rev-parse", "--verify", "HEAD");
  } catch {
    return undefined;
  }
}

export const gen: Command = {
  name: "gen",
  summary: "a git format-patch series implementing a policy and memslot flag against a kernel tree",
  usage: "kspec gen --kernel DIR --policy P --flag F --out DIR [--signoff] [--force] [--rewrite]",
  details: `P: a proposal (applied to what the tree's vmx_get_mt_mask() does today) or BASE+PROPOSAL.
F: a memslot-flag spec (kspec list); defaults to the one the proposal names.
The series: cover letter, the flag and its plumbing, (mem-dma: the PAT helper), passing the memslot to
get_mt_mask, the VMX change, the selftest. Every step is checked in memory before anything is written: the
plumbing steps leave vmx_get_mt_mask() as it was, the VMX step makes it compute P.
--out DIR: as git format-patch -o: created if needed; only the series' files (0000-cover-letter.patch,
NNNN-*.patch) are written there, each atomically. A DIR that already holds NNNN-*.patch files is refused;
--force replaces those files (and removes those the new series does not have), never any other file. A DIR
that is the kernel tree, lies inside it or contains it is refused (symlinks resolved first).
--signoff: add Signed-off-by (and From) with the git identity of the kernel tree (git -C DIR config
user.name/user.email); without it the patches carry no sign-off and a placeholder author. --rewrite: regenerate
the whole function body from the policy instead of inserting the proposal's rules. The kernel tree is only read.
Exit: 0, 2 on bad input (nothing is written).`,
  options: {
    kernel: { type: "string" },
    policy: { type: "string" },
    flag: { type: "string" },
    out: { type: "string" },
    signoff: { type: "boolean" },
    force: { type: "boolean" },
    rewrite: { type: "boolean" },
  },
  async run({ values }, io) {
    const expr = str(values, "policy");
    const out = str(values, "out");
    if (!expr) throw new InputError("gen needs --policy P");
    if (!out) throw new InputError("gen needs --out DIR");
    const tree = kernelTree(values);
    refuseNearTree("--out", out, tree.realRoot);
    const target = seriesTarget(out, !!values.force);
    const proposals = await Promise.all(splitExpression(expr).map(loadPart));
    const named = proposals.flatMap((p) =>
      p.kind === "proposal" && p.proposal.flag ? [p.proposal.flag] : [],
    );
    const flagName = str(values, "flag") ?? named[0];
    if (!flagName) throw new InputError("gen needs --flag F (the policy names no memslot flag)");
    const flag = await loadFlag(flagName);
    if (named.length && !named.includes(flag.name)) {
      throw new InputError(`policy ${expr} is paired with flag ${named.join(", ")}, not ${flag.name}`);
    }
    const treeBase = importTree(tree, [flag.macro]);
    const policy = await resolvePolicy(expr, async () => treeBase);
    if (!policy.rules.some((r) => r.when.some((c) => c.input === "slotFlag"))) {
      throw new InputError(
        `policy ${policy.name} does not read slotFlag: there is nothing for ${flag.macro} to do`,
      );
    }
    const signoff = values.signoff ? gitIdentity(tree.root) : undefined;
    const series = generate({
      tree,
      flag,
      policy,
      treeBase,
      alternatives: await builtinFlags(),
      rewrite: !!values.rewrite,
      signed: !!signoff,
    });
    const base = baseCommit(tree.root);
    const files = formatSeries({
      cover: series.cover,
      commits: series.steps.map((s) => s.commit),
      author: signoff ?? DRAFT_AUTHOR,
      signoff,
      baseCommit: base,
      version: VERSION,
    });
    writeSeriesFiles(target, files);
    io.out(
      `wrote ${files.length} files to ${out} (${series.steps.length} patches, ${series.mode === "insert" ? "rules inserted" : "function rewritten"})\n`,
    );
    for (const [i, s] of series.steps.entries()) {
      io.out(
        `  ${i + 1}/${series.steps.length} ${s.commit.subject}\n        checked: vmx_get_mt_mask() ${s.verdict.verdict} to ${s.against}\n`,
      );
    }
    if (!base)
      io.err(
        `kspec: note: ${tree.root} is not a clean git work tree, so the cover letter has no base-commit\n`,
      );
    return 0;
  },
};
