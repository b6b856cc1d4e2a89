// Evaluate stage (hazards): the hazard catalogue (docs/hazards.md is written from it), the hazards a decision
// table can show, each with the rows that show it, and the effective memory type a guest gets for each guest PAT
// type.

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
  /** Its number in the catalogue (docs/hazards.md). */
  domain: number;
  title: string;
  /** What goes wrong, and why: the catalogue's paragraph. */
  why: string;
  /** How a table shows it (the inputs it looks at, and the rows); undefined: no decision table can. */
  check?: { inputs: readonly string[]; shows(v: Lookup, mask: number): boolean };
}

/** Where the catalogue is, as outputs cite it. */
export const HAZARDS_DOC = "docs/hazards.md";

const WB_IPAT = 0x70;

/** The hazards of KVM's memory-type choice, numbered as docs/hazards.md numbers them. */
export const HAZARDS: readonly HazardDef[] = [
  {
    id: "mmio-not-uc",
    domain: 1,
    title: "host MMIO mapped with an EPT type other than UC: machine checks, also from speculative access",
    why: "A cacheable type (or WB|IPAT) on host MMIO lets the CPU fetch and write back lines of device registers; on many platforms that is a machine check, and speculation alone can trigger it.",
    check: {
      inputs: ["isMmio"],
      shows: (v, mask) => v("isMmio") === true && decodeMask(mask).code !== 0,
    },
  },
  {
    id: "wb-ram-aliased",
    domain: 2,
    title:
      "host-WB RAM in an unflagged slot made non-WB or guest-PAT-honoring without self-snoop: aliases with conflicting types",
    why: "The host maps the same RAM WB. A guest UC/WC mapping of it (a non-WB EPT type, or IPAT clear so guest PAT decides) creates aliases with conflicting types; a CPU without self-snoop does not keep them coherent, and without cache flushes stale data can reach non-snooped DMA.",
    check: {
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
  },
  {
    id: "noncoherent-forced-wb",
    domain: 3,
    title:
      "flagged (WC / non-coherent) memory forced to WB|IPAT: the device reads stale data (the virtio-gpu bug)",
    why: "Memory a device reads without snooping (a virtio-gpu blob the host GPU maps WC) must not be WB|IPAT in the guest: the guest's writes stay in its cache and the device reads what was there before.",
    check: {
      inputs: ["isMmio", "slotFlag", "hostPat"],
      shows: (v, mask) =>
        v("isMmio") !== true && (v("slotFlag") === true || v("hostPat") === "WC") && mask === WB_IPAT,
    },
  },
  {
    id: "guest-pat-by-default",
    domain: 4,
    title: "guest PAT honored by default: UC slowdowns (the bochs DRM regression of 6.11)",
    why: "Honoring guest PAT everywhere lets guest drivers map memory UC or UC- where the host has WB RAM; Linux 6.11 did so on self-snoop CPUs and bochs guests mapping VRAM UC- became very slow, so 6.12 reverted it. Honoring guest PAT must be opt-in (a memslot flag). Which default is right is a design choice a table shows but cannot judge: kspec does not flag it.",
  },
  {
    id: "flag-on-ram",
    domain: 5,
    title: "the memslot flag on system-RAM slots lets any guest driver choose UC/WC",
    why: "A flag that honors guest PAT is meant for device memory (VM_IO | VM_PFNMAP BARs, GPU blobs); allowed on ordinary RAM slots, it hands hazard 2 to the guest. What a slot backs is decided by userspace at KVM_SET_USER_MEMORY_REGION, not by vmx_get_mt_mask(): no decision table shows it.",
  },
  {
    id: "migration-wc-reads",
    domain: 6,
    title: "migration or VMM reads of guest-WC memory through WB host mappings: stale reads",
    why: "The VMM reads guest memory through its own WB mapping (migration, dumps). For memory the guest writes WC, those reads can miss data still in write-combining buffers or read stale lines. A property of the VMM, not of the table.",
  },
  {
    id: "stale-ept-types",
    domain: 7,
    title: "inputs changing without zapping EPT entries: stale memory types",
    why: "The type is computed when an SPTE is made. When an input changes afterwards (non-coherent DMA attached, a quirk toggled, CR0.CD, guest MTRRs, a slot flag), existing entries keep the old type unless KVM zaps them. A matter of KVM's invalidation paths, outside the function.",
  },
  {
    id: "reserved-code",
    domain: 8,
    title:
      "reserved or PAT-only memory-type code (2, 3, 7), or a bit outside type and IPAT, in the mask: EPT misconfiguration or a misplaced bit",
    why: "Codes 2 and 3 are reserved everywhere, and 7 (UC-) exists only in PAT: in EPT bits 5:3 any of them is an EPT misconfiguration, and the access exits instead of completing. A mask bit outside the type (5:3) and IPAT (6) lands in another field of the EPT entry: usually IPAT moved or written as the wrong constant, so guest PAT is honored where it was meant to be ignored.",
    check: {
      inputs: [],
      shows: (_v, mask) => !isEptCode(decodeMask(mask).code) || decodeMask(mask).stray !== 0,
    },
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
    const check = h.check;
    if (!check) continue;
    const relevant = check.inputs.filter((n) => inputs.includes(n));
    const cubes: Cube[] = [];
    for (const leaf of leaves) {
      for (const row of expand(
        leaf.env,
        relevant.filter((n) => !leaf.env.has(n)),
      )) {
        const full = new Map([...leaf.env, ...row]);
        if (check.shows((n) => full.get(n), leaf.mask)) cubes.push(cubeOf(full));
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
