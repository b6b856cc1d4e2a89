// Proposal: KVM_MEM_WC, an alternative from the seed design thread (kvm list, Dec 2023): userspace promises the
// host maps the slot WC (as a host GPU driver maps a blob resource), and KVM maps it WC with IPAT whatever the
// guest's PAT says.
import { defineProposal } from "../dsl.js";

export default defineProposal({
  name: "mem-wc",
  source: "seed design thread (kvm list, Dec 2023): the KVM_MEM_WC alternative",
  summary: "flagged slot: WC with IPAT",
  flag: "mem-wc",
  insert: [
    {
      after: "mmio",
      rules: [
        {
          name: "mem-wc",
          when: { slotFlag: true },
          then: { type: "WC", ipat: true },
          overrides: "*",
          why: "Map memslots userspace marked KVM_MEM_WC as WC, ignoring guest PAT.",
        },
      ],
    },
  ],
});
