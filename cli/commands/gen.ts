// Command stage: `kspec gen` — the patch series for a policy and memslot flag against a kernel tree.

import { InputError } from "../../spec/errors.js";
import { planSeries } from "../../generator/series.js";
import type { Identity } from "../../generator/patch.js";
import { str, type Command } from "../command.js";
import { VERSION } from "../version.js";
import { kernelTree } from "../kernel.js";
import { refuseNearTree, seriesTarget, writeSeriesFiles } from "../io.js";

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
  optionHelp: {
    out: "the directory of the series (as git format-patch -o); never inside the kernel tree",
    signoff: "add your Signed-off-by (git config user.name/user.email) and author the patches",
    force: "replace an earlier series in --out (only the files of a series)",
    rewrite: "regenerate the whole function body from the policy, not insert the proposal's rules",
  },
  async run({ values }, io) {
    const expr = str(values, "policy");
    const out = str(values, "out");
    if (!expr) throw new InputError("gen needs --policy P");
    if (!out) throw new InputError("gen needs --out DIR");
    const tree = kernelTree(values);
    refuseNearTree("--out", out, tree.realRoot);
    const target = seriesTarget(out, !!values.force);
    let signoff: Identity | undefined;
    if (values.signoff) {
      signoff = tree.gitIdentity();
      if (!signoff)
        throw new InputError(
          `--signoff needs the git identity the kernel tree's commits would carry: set user.name and user.email (git -C ${tree.root} config, or git config --global)`,
        );
    }
    const series = await planSeries(tree, {
      policy: expr,
      flag: str(values, "flag"),
      rewrite: !!values.rewrite,
      signoff,
      version: VERSION,
      progress: io.progress,
    });
    writeSeriesFiles(target, series.files);
    const n = series.steps.length;
    io.out(
      `wrote ${series.files.length} file${series.files.length === 1 ? "" : "s"} to ${out} (${n} patch${n === 1 ? "" : "es"}, ${series.mode === "insert" ? "rules inserted" : "function rewritten"})\n`,
    );
    for (const [i, s] of series.steps.entries()) {
      io.out(
        `  ${i + 1}/${n} ${s.commit.subject}\n        checked: vmx_get_mt_mask() ${s.verdict.verdict} to ${s.against}\n`,
      );
    }
    if (!series.baseCommit)
      io.err(`kspec: note: ${tree.root} is not a clean git work tree, so the series has no base-commit\n`);
    return 0;
  },
};
