// Proposal: KVM_MEM_DMA, an alternative from the seed design thread (kvm list, Dec 2023), after the 2020 Google
// RFC of the same name: KVM derives the memory type of a flagged slot from the host's own mapping of the PFN (the
// host PAT type: the thread's lookup_memtype()/pgprot2cachemode() idea) and sets IPAT. UC- exists only in PAT, so
// it is mapped to UC for the EPT entry.
import { defineProposal } from "../dsl.js";

export default defineProposal({
  name: "mem-dma",
  source: "seed design thread (kvm list, Dec 2023): the KVM_MEM_DMA alternative; 2020 Google RFC KVM_MEM_DMA",
  summary: "flagged slot: the host PAT type of the PFN, with IPAT (UC- maps to UC)",
  flag: "mem-dma",
  insert: [
    {
      after: "mmio",
      rules: [
        {
          name: "mem-dma",
          when: { slotFlag: true },
          then: { type: { from: "hostPat", map: { "UC-": "UC" } }, ipat: true },
          overrides: "*",
          why: "Use the host's memory type for memslots userspace marked KVM_MEM_DMA.",
        },
      ],
    },
  ],
});
