// Plan stage: a policy (and, when it reads slotFlag, a memslot-flag spec) + a kernel tree -> the commits of a
// patch series, each step applied to the tree in memory and checked before the next: plumbing and signature steps
// must leave vmx_get_mt_mask() computing what the tree computed before; the VMX step must make it compute the
// policy. A policy that reads no memslot flag gives the VMX patch alone. The one library entry of `kspec gen`.

import { Preprocessor } from "../kernel/cpp.js";
import { DEFAULT_FUNCTION, locateFunction } from "../kernel/locate.js";
import { numbering, SITE_FUNCTIONS, SITES } from "../kernel/kvm-sites.js";
import type { KernelTree } from "../kernel/tree.js";
import { InputError } from "../spec/errors.js";
import { hazardText, scenarios } from "../spec/explain.js";
import { builtinFlags, loadFlag, type Flag } from "../spec/flags.js";
import type { Policy, Rule } from "../spec/ir.js";
import { typeName } from "../spec/memtypes.js";
import { loadPart, resolvePolicy, splitExpression } from "../spec/resolve.js";
import { SLOT_FLAG } from "../spec/vocabulary.js";
import { checkTree, treeAsPolicy, type ImportedPolicy } from "../checker/step.js";
import { DRAFT_AUTHOR, formatSeries, type Identity, type PatchFile } from "./patch.js";
import {
  apiEdit,
  callerEdit,
  capabilityEdit,
  checkFlagsEdit,
  immutableEdit,
  includeEdit,
  patHelperEdits,
  patHelperHeader,
  PAT_HELPER,
  selftestEdit,
  signatureEdits,
  slotHelperEdit,
  uapiCapEdit,
  uapiFlagEdit,
  type NewParams,
} from "./plumbing.js";
import { render } from "./render.js";
import { SeriesState, type Step } from "./steps.js";
import { changeTable, hazardItems } from "./tables.js";
import { insertedBlock, vmxEdit } from "./vmx-edit.js";

export interface Series {
  steps: Step[];
  policy: Policy;
  base: ImportedPolicy;
  flag?: Flag;
  cover?: { subject: string; body: string };
  mode: "insert" | "rewrite";
  /** The format-patch files, cover letter first (when there is one). */
  files: PatchFile[];
  baseCommit?: string;
}

export interface PlanOptions {
  /** A policy expression: a proposal (applied to what the tree does today), BASE+PROPOSAL, a policy. */
  policy: string;
  /** A memslot-flag spec; by default the one the proposal names. */
  flag?: string;
  rewrite?: boolean;
  /** Sign off (and author) with this identity; without it, no sign-off and a placeholder author. */
  signoff?: Identity;
  version: string;
  /** Told the step about to run, for a progress display (a long series, a long history). */
  progress?: (step: string) => void;
}

/** The words of the VMX change for a flagged slot's rule: a view for templates/vmx-*.hbs. */
function words(rule: Rule, flag: Flag) {
  const t = rule.then.type;
  const type = t.kind === "const" ? typeName(t.code) : "";
  return {
    macro: flag.macro,
    honor: t.kind === "const" && type === "WB" && !rule.then.ipat,
    host: t.kind === "input",
    type,
    ipat: rule.then.ipat,
    patHelper: PAT_HELPER,
  };
}

/** A commit subject from a policy's summary ("honor guest PAT on self-snoop CPUs"), or from its name. */
function policySubject(p: Policy): string {
  const s = (p.summary ?? "").replace(/\s+/g, " ").trim().replace(/\.$/, "");
  const fromSummary = s.charAt(0).toUpperCase() + s.slice(1);
  return s && `KVM: VMX: ${fromSummary}`.length <= 75
    ? fromSummary
    : `Compute the EPT memory type as ${p.name}`.slice(0, 64);
}

/** Which flag goes with the policy: --flag, else the one the proposal names, else none (a flagless change). */
async function pairFlag(expr: string, flagName: string | undefined): Promise<Flag | undefined> {
  const parts = await Promise.all(splitExpression(expr).map(loadPart));
  const named = parts.flatMap((p) => (p.kind === "proposal" && p.proposal.flag ? [p.proposal.flag] : []));
  const name = flagName ?? named[0];
  if (!name) return undefined;
  const flag = await loadFlag(name);
  if (named.length && !named.includes(flag.name))
    throw new InputError(`policy ${expr} is paired with flag ${named.join(", ")}, not ${flag.name}`);
  return flag;
}

export async function planSeries(tree: KernelTree, o: PlanOptions): Promise<Series> {
  const flag = await pairFlag(o.policy, o.flag);
  const flagMacros = flag ? [flag.macro] : [];
  const base = treeAsPolicy(tree, flagMacros);
  const policy = await resolvePolicy(o.policy, async () => base);
  const readsFlag = policy.rules.some((r) => r.when.some((c) => c.input === SLOT_FLAG.input));
  if (readsFlag && !flag)
    throw new InputError(`policy ${policy.name} reads ${SLOT_FLAG.input}: name its memslot flag with --flag`);
  if (flag && !readsFlag)
    throw new InputError(
      `policy ${policy.name} does not read ${SLOT_FLAG.input}: there is nothing for ${flag.macro} to do`,
    );
  const st = new SeriesState(tree, flagMacros, o.progress);
  const table = changeTable(policy, base);
  const baseCommit = tree.gitBase();
  const author = o.signoff ?? DRAFT_AUTHOR;

  /** The VMX step: the policy's rules inserted (or the body rewritten), checked to compute the policy. */
  const vmxStep = (message: string, after?: () => void): "insert" | "rewrite" => {
    let mode: "insert" | "rewrite" = "rewrite";
    st.step(
      message,
      () => {
        const table = st.mustEqual(base, "the steps before the VMX patch").leaves;
        let r = vmxEdit(st.tree, flag, policy, table, !!o.rewrite);
        // Insertion assumes the tree computes the policy's base; if the result is not the policy, rewrite whole.
        if (
          r.mode === "insert" &&
          checkTree(st.tree.withOverlay(new Map([r.edit])), policy, { flagMacros }).verdict !== "equal"
        )
          r = vmxEdit(st.tree, flag, policy, table, true);
        mode = r.mode;
        st.apply([r.edit]);
        after?.();
      },
      policy,
      "the VMX patch",
    );
    return mode;
  };

  if (!flag) {
    const s = scenarios(policy);
    const mode = vmxStep(
      render("commit-vmx-policy.txt", {
        subject: policySubject(policy),
        policy: policy.name,
        source: policy.source,
        table,
        hazards: hazardItems(policy, s.hazards),
      }),
    );
    const files = formatSeries({
      commits: st.steps.map((x) => x.commit),
      author,
      signoff: o.signoff,
      baseCommit,
      version: o.version,
    });
    return { steps: st.steps, policy, base, mode, files, baseCommit };
  }

  const { bit, cap } = numbering(tree);
  const uapi = new Preprocessor(tree, SITES.uapi);
  const incompatible = flag.incompatible.filter((f) => uapi.lookup(f).length > 0);
  const add: NewParams = { slot: "slot", ...(flag.hostMemtype ? { pfn: "pfn" } : {}) };
  const fnFile = locateFunction(tree, DEFAULT_FUNCTION).info.file;

  const view = {
    macro: flag.macro,
    bit,
    capability: flag.capability,
    cap,
    arches: flag.arches.join(", "),
    incompatible: incompatible.join(" or "),
    mutable: flag.mutable,
    helper: flag.helper,
    why: flag.why,
  };
  // The flag exists first, takes effect next, and is accepted (with its capability and documentation) last: no
  // kernel of the series accepts a flag it ignores.
  st.step(
    render("commit-flag-define.txt", view),
    st.edits(
      (t) => uapiFlagEdit(t, flag),
      (t) => slotHelperEdit(t, flag),
    ),
    base,
    "the flag patch",
  );
  if (flag.hostMemtype)
    st.step(
      render("commit-pat.txt", { fn: PAT_HELPER, macro: flag.macro }),
      st.edits(patHelperEdits),
      base,
      "the PAT helper patch",
    );
  st.step(
    render("commit-signature.txt", { pfn: !!add.pfn }),
    st.edits(
      (t) => signatureEdits(t, DEFAULT_FUNCTION, fnFile, add),
      (t) => callerEdit(t, add),
    ),
    base,
    "the signature patch",
  );
  const w = words(insertedBlock(policy)?.rules[0] ?? policy.rules[0], flag);
  const prose = {
    subject: render("vmx-subject.txt", w),
    what: render("vmx-what.txt", w),
    effect: render("vmx-effect.txt", w),
  };
  const mode = vmxStep(
    render("commit-vmx.txt", { subject: prose.subject, what: prose.what, table, policy: policy.name }),
    () => {
      // The host memory type comes from the PAT helper: the VMX code must see its declaration.
      if (flag.hostMemtype) st.apply([includeEdit(st.tree, fnFile, patHelperHeader(st.tree))]);
    },
  );
  const vmxPatch = st.steps.length;
  st.step(
    render("commit-flag-enable.txt", view),
    st.edits(
      (t) => uapiCapEdit(t, flag),
      (t) => checkFlagsEdit(t, flag, incompatible),
      ...(flag.mutable ? [] : [(t: KernelTree) => immutableEdit(t, flag)]),
      (t) => capabilityEdit(t, flag),
      (t) => apiEdit(t, flag, bit),
    ),
    policy,
    "the patch that accepts the flag",
  );
  const enablePatch = st.steps.length;
  const supported = (tree.read(SITES.selftest) ?? "").includes(SITE_FUNCTIONS.invalidFlagsTest);
  st.step(
    render("commit-selftest.txt", {
      macro: flag.macro,
      capability: flag.capability,
      mutable: flag.mutable,
      supported,
    }),
    st.edits((t) => selftestEdit(t, flag)),
    policy,
    "the selftest patch",
  );

  const steps = st.steps;
  const last = steps[steps.length - 1].verdict;
  const alternatives = (await builtinFlags())
    .filter((a) => a.name !== flag.name)
    .map((a) => ({
      macro: a.macro,
      summary: `${a.summary} (kspec: --flag ${a.name}, --policy ${a.proposal})`,
    }));
  const coverText = render("cover-letter.txt", {
    title: prose.subject.replace(/^./, (c) => c.toUpperCase()),
    why: flag.why,
    macro: flag.macro,
    effect: prose.effect,
    summary: prose.what,
    alternatives,
    design: `This series implements ${flag.macro} (spec: kspec --flag ${flag.name}, --policy ${flag.proposal}).`,
    policy: policy.name,
    base: base.name,
    table,
    beforeVmx: vmxPatch - 1,
    vmxPatch,
    enablePatch,
    combinations: last.combinations,
    inputs: last.inputs.join(", "),
    bit,
    cap,
    signed: !!o.signoff,
  });
  const lines = coverText.trim().split("\n");
  const hazards = hazardText(scenarios(policy).hazards)
    .trimEnd()
    .replace(/^hazards \([^)]*\):/, `Hazards kspec finds in ${policy.name}:`);
  const cover = { subject: lines[0], body: [...lines.slice(1), "", hazards].join("\n").trim() };
  const files = formatSeries({
    cover,
    commits: steps.map((x) => x.commit),
    author,
    signoff: o.signoff,
    baseCommit,
    version: o.version,
  });
  return { steps, policy, base, flag, cover, mode, files, baseCommit };
}
