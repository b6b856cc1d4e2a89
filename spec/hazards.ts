// Evaluate stage (hazards): the hazards of DOMAIN.md that a decision table can show, each with the rows that show it, and
// the effective memory type a guest gets for each guest PAT type.

import { PAT_TYPES, decodeMask, effectiveType, isEptCode, type PatType } from "./memtypes.js";
import type { Env } from "./evaluate.js";
import { expand } from "./evaluate.js";
import { cubeOf, mergeCubes, type Cube } from "./cubes.js";
import type { InputValue } from "./vocabulary.js";

/** A path of a table: the inputs it fixed, and the mask it gives. Policies and extracted C both give these. */
export interface MaskLeaf {
  env: Env;
  mask: number;
}

type Lookup = (input: string) => InputValue | undefined;

interface HazardDef {
  id: string;
  /** Its number in DOMAIN.md's list. */
  domain: number;
  title: string;
  inputs: readonly string[];
  shows(v: Lookup, mask: number): boolean;
}

const WB_IPAT = 0x70;

export const HAZARDS: readonly HazardDef[] = [
  {
    id: "mmio-not-uc",
    domain: 1,
    title: "host MMIO mapped with an EPT type other than UC: machine checks, also from speculative access",
    inputs: ["isMmio"],
    shows: (v, mask) => v("isMmio") === true && decodeMask(mask).code !== 0,
  },
  {
    id: "wb-ram-aliased",
    domain: 2,
    title:
      "host-WB RAM in an unflagged slot made non-WB or guest-PAT-honoring without self-snoop: aliases with conflicting types",
    inputs: ["isMmio", "slotFlag", "selfSnoop", "hostPat"],
    shows: (v, mask) => {
      const d = decodeMask(mask);
      return (
        v("isMmio") === false &&
        v("slotFlag") !== true &&
        v("selfSnoop") !== true &&
        (v("hostPat") ?? "WB") === "WB" &&
        (d.type !== "WB" || !d.ipat)
      );
    },
  },
  {
    id: "noncoherent-forced-wb",
    domain: 3,
    title:
      "flagged (WC / non-coherent) memory forced to WB|IPAT: the device reads stale data (the virtio-gpu bug)",
    inputs: ["isMmio", "slotFlag", "hostPat"],
    shows: (v, mask) =>
      v("isMmio") !== true && (v("slotFlag") === true || v("hostPat") === "WC") && mask === WB_IPAT,
  },
  {
    id: "reserved-code",
    domain: 8,
    title: "reserved or PAT-only memory-type code (2, 3, 7) in the EPT entry: EPT misconfiguration",
    inputs: [],
    shows: (_v, mask) => !isEptCode(decodeMask(mask).code) || decodeMask(mask).stray !== 0,
  },
];

export interface HazardFinding {
  id: string;
  domain: number;
  title: string;
  rows: Cube[];
}

/** Hazards shown by a table whose inputs are `inputs`; inputs it does not read are taken as "any". */
export function findHazards(leaves: readonly MaskLeaf[], inputs: readonly string[]): HazardFinding[] {
  const out: HazardFinding[] = [];
  for (const h of HAZARDS) {
    const relevant = h.inputs.filter((n) => inputs.includes(n));
    const cubes: Cube[] = [];
    for (const leaf of leaves) {
      for (const row of expand(
        leaf.env,
        relevant.filter((n) => !leaf.env.has(n)),
      )) {
        const full = new Map([...leaf.env, ...row]);
        if (h.shows((n) => full.get(n), leaf.mask)) cubes.push(cubeOf(full));
      }
    }
    if (cubes.length) out.push({ id: h.id, domain: h.domain, title: h.title, rows: mergeCubes(cubes) });
  }
  return out;
}

/** The effective type for each guest PAT type, in PAT_TYPES order. */
export function effectiveRow(mask: number): { pat: PatType; type: string }[] {
  return PAT_TYPES.map((pat) => ({ pat, type: effectiveType(mask, pat) }));
}
