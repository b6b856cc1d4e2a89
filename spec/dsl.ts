// Author stage: the authoring types of policy and proposal files — what `import { definePolicy } from "kspec"`
// gives a policy file in another repository. kspec reads these files statically with @babel/parser (they are
// data, never executed); the define*() helpers and the types exist so that an editor completes input names and
// values and `tsc --noEmit` checks a file.

import type { EptType, PatType } from "./memtypes.js";
import type { BuiltinInputs } from "./vocabulary.js";

/**
 * The inputs a condition may name, with the values each takes: the vocabulary's, the families (a CONFIG_
 * option, a KVM quirk, a CPU feature, by the macro's name), and — by declaration merging — a project's own,
 * bound to C in its kspec.config.json:
 *
 *   declare module "kspec" { interface KspecInputs { iommuAttached: boolean } }
 */
export interface KspecInputs extends BuiltinInputs {
  [option: `config:CONFIG_${string}`]: boolean;
  [quirk: `quirk:KVM_X86_QUIRK_${string}`]: boolean;
  [feature: `cpu:X86_FEATURE_${string}`]: boolean;
}

/** A memory type: a name, a raw code (so that a reserved code can be written, and caught), or an input. */
export type TypeSpec =
  | EptType
  | PatType
  | number
  | "guestMtrr"
  | "hostPat"
  | { from: "guestMtrr" | "hostPat"; map?: Partial<Record<PatType, EptType | PatType | number>> };

export interface OutcomeSpec {
  type: TypeSpec;
  /** EPT bit 6, "ignore PAT": the EPT type is the effective type, whatever the guest's PAT says. */
  ipat: boolean;
  why?: string;
}

/**
 * Conditions are a conjunction: each key an input, each value the value it must have (for a memory type, or one
 * of several: `guestMtrr: ["UC", "WC"]`).
 */
export type WhenSpec = {
  [K in keyof KspecInputs]?: KspecInputs[K] extends boolean
    ? boolean
    : KspecInputs[K] | readonly KspecInputs[K][];
};

export interface RuleSpec {
  name: string;
  when: WhenSpec;
  then: OutcomeSpec;
  /** Rules this one deliberately takes precedence over where both match ("*": every later rule). */
  overrides?: readonly string[] | "*";
  why?: string;
}

export interface PolicySpec {
  name: string;
  /** Where the policy comes from: kernel version and file, or the mailing-list message. */
  source: string;
  summary?: string;
  rules: readonly RuleSpec[];
  default: OutcomeSpec;
}

export interface InsertSpec {
  after?: string;
  before?: string;
  rules: readonly RuleSpec[];
}

export interface ProposalSpec {
  name: string;
  source: string;
  summary?: string;
  /** The memslot flag spec this proposal is paired with (spec/flags/). */
  flag?: string;
  insert: readonly InsertSpec[];
}

export function definePolicy(p: PolicySpec): PolicySpec {
  return p;
}

export function defineProposal(p: ProposalSpec): ProposalSpec {
  return p;
}

/** A memslot flag: what the uapi, KVM's checks, the documentation and the selftest need to know of it. */
export interface FlagSpec {
  name: string;
  /** The uapi define, e.g. KVM_MEM_NON_COHERENT_DMA. */
  macro: string;
  /** The static inline test in include/linux/kvm_host.h, e.g. kvm_slot_non_coherent_dma. */
  helper: string;
  /** The capability that advertises the flag. */
  capability: string;
  /** The proposal (spec/policies/) that gives flagged slots their memory type. */
  proposal: string;
  summary: string;
  source: string;
  /** May the flag be set or cleared on an existing slot (KVM_MR_FLAGS_ONLY)? */
  mutable: boolean;
  /** Flags it cannot be combined with; those the target tree does not define are ignored. */
  incompatible: readonly string[];
  /** Architectures (Kconfig names without CONFIG_) whose KVM accepts the flag. */
  arches: readonly string[];
  /** Does the policy need the host memory type of the PFN (mem-dma)? */
  hostMemtype: boolean;
  /** The api.rst paragraph under KVM_SET_USER_MEMORY_REGION(2), and the capability's section body. */
  doc: string;
  capDoc: string;
  /** The commit message background: why the flag exists. */
  why: string;
}

export function defineFlag(f: FlagSpec): FlagSpec {
  return f;
}
