// Proposal: KVM_MEM_NON_COHERENT_DMA, the memslot flag the KVM maintainer asked for in the seed design thread
// (kvm list, Dec 2023) and the Jan 2024 series that followed: a flagged slot ignores guest MTRRs and honors guest
// PAT (EPT WB, IPAT clear), so a virtio-gpu blob the host GPU reads without snooping can be mapped WC by the guest.
// Not x86-specific in its uapi; the slot is already at hand in make_spte(), so the test is free on the fast path.
import { defineProposal } from "../dsl.js";

export default defineProposal({
  name: "non-coherent-dma",
  source: "seed design thread (kvm list, Dec 2023) and the Jan 2024 KVM_MEM_NON_COHERENT_DMA series",
  summary: "flagged slot: WB with IPAT clear (guest PAT honored)",
  flag: "non-coherent-dma",
  insert: [
    {
      after: "mmio",
      rules: [
        {
          name: "non-coherent-dma",
          when: { slotFlag: true },
          then: { type: "WB", ipat: false },
          overrides: "*",
          why: "Honor guest PAT for memslots userspace marked as non-coherent DMA.",
        },
      ],
    },
  ],
});
