// Evaluate stage (memory types): memory-type codes, the EPT mask encoding and the SDM effective-type table (docs/memory-types.md is written from them).

/** Memory types an EPT leaf may carry (MTRR encoding). */
export const EPT_TYPES = ["UC", "WC", "WT", "WP", "WB"] as const;
export type EptType = (typeof EPT_TYPES)[number];

/** Memory types a PAT entry may carry: the EPT ones plus UC- ("UC minus"), which only PAT can express. */
export const PAT_TYPES = ["UC", "UC-", "WC", "WT", "WP", "WB"] as const;
export type PatType = (typeof PAT_TYPES)[number];

export const TYPE_CODE: Readonly<Record<PatType, number>> = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6, "UC-": 7 };

/** Codes 2 and 3 are reserved in MTRRs, PAT and EPT; 7 is UC- in PAT and a misconfiguration in EPT. */
export const RESERVED_CODES: readonly number[] = [2, 3];
export const PAT_ONLY_CODES: readonly number[] = [7];

export const VMX_EPT_MT_EPTE_SHIFT = 3;
export const VMX_EPT_IPAT_SHIFT = 6;
export const VMX_EPT_IPAT_BIT = 1 << VMX_EPT_IPAT_SHIFT;

export function typeName(code: number): string {
  for (const t of PAT_TYPES) if (TYPE_CODE[t] === code) return t;
  return `reserved(${code})`;
}

export function isEptCode(code: number): boolean {
  return (EPT_TYPES as readonly string[]).includes(typeName(code));
}

/** The value vmx_get_mt_mask() returns for an EPT memory type and IPAT bit. */
export function encodeMask(code: number, ipat: boolean): number {
  return (code << VMX_EPT_MT_EPTE_SHIFT) | (ipat ? VMX_EPT_IPAT_BIT : 0);
}

export interface DecodedMask {
  code: number;
  type: string;
  ipat: boolean;
  /** Bits outside EPT bits 6:3: vmx_get_mt_mask() has no business setting them. */
  stray: number;
}

export function decodeMask(mask: number): DecodedMask {
  const code = (mask >> VMX_EPT_MT_EPTE_SHIFT) & 7;
  return {
    code,
    type: typeName(code),
    ipat: (mask & VMX_EPT_IPAT_BIT) !== 0,
    stray: mask & ~((7 << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT),
  };
}

/** "WB|IPAT (0x70)", "UC (0x00)": the way a KVM developer reads a mask. */
export function describeMask(mask: number): string {
  const d = decodeMask(mask);
  const hex = "0x" + mask.toString(16).padStart(2, "0");
  const stray = d.stray ? `|stray 0x${d.stray.toString(16)}` : "";
  return `${d.type}${d.ipat ? "|IPAT" : ""}${stray} (${hex})`;
}

/**
 * SDM Vol 3A "Effective Page-Level Memory Type": the EPT type stands where the MTRR type stands when IPAT is 0.
 * Rows: EPT type; columns: guest PAT type.
 */
export const EFFECTIVE_TYPE: Readonly<Record<EptType, Readonly<Record<PatType, EptType>>>> = {
  UC: { UC: "UC", "UC-": "UC", WC: "WC", WT: "UC", WP: "UC", WB: "UC" },
  WC: { UC: "UC", "UC-": "WC", WC: "WC", WT: "UC", WP: "UC", WB: "WC" },
  WT: { UC: "UC", "UC-": "UC", WC: "WC", WT: "WT", WP: "WP", WB: "WT" },
  WP: { UC: "UC", "UC-": "WC", WC: "WC", WT: "WT", WP: "WP", WB: "WP" },
  WB: { UC: "UC", "UC-": "UC", WC: "WC", WT: "WT", WP: "WP", WB: "WB" },
};

/**
 * The type a guest access gets for an EPT mask and the guest's PAT type. A reserved or PAT-only code in the EPT
 * entry is an EPT misconfiguration: the access never completes, so there is no effective type.
 */
export function effectiveType(mask: number, guestPat: PatType): EptType | "EPT-misconfig" {
  const d = decodeMask(mask);
  if (!isEptCode(d.code)) return "EPT-misconfig";
  const ept = d.type as EptType;
  return d.ipat ? ept : EFFECTIVE_TYPE[ept][guestPat];
}
