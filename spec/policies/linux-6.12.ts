// Linux 6.12 as Debian ships it (linux-source-6.12; the same logic as upstream 6.16): vmx_get_mt_mask() in
// arch/x86/kvm/vmx/vmx.c. MTRR virtualization is gone; the ignore-guest-PAT quirk test sits in the static inline
// helper vmx_ignore_guest_pat(). Host MMIO is UC; with the quirk and no non-coherent DMA the type is WB|IPAT;
// otherwise WB with IPAT clear, so the guest's PAT decides.
import { definePolicy } from "../dsl.js";

export default definePolicy({
  name: "linux-6.12",
  source:
    "Linux 6.12 (Debian linux-source-6.12), arch/x86/kvm/vmx/vmx.c vmx_get_mt_mask() and vmx_ignore_guest_pat()",
  summary: "KVM_X86_QUIRK_IGNORE_GUEST_PAT: WB|IPAT unless non-coherent DMA, then WB honoring guest PAT",
  rules: [
    {
      name: "mmio",
      when: { isMmio: true },
      then: { type: "UC", ipat: false },
      overrides: "*",
      why: "Force UC for host MMIO: cacheable accesses to MMIO cause machine checks.",
    },
    {
      name: "ignore-guest-pat",
      when: { noncoherentDma: false, quirkIgnoreGuestPat: true },
      then: { type: "WB", ipat: true },
      why: "Force WB if ignoring guest PAT (the quirk is on and no device does non-coherent DMA).",
    },
  ],
  default: {
    type: "WB",
    ipat: false,
    why: "Otherwise WB with guest PAT honored.",
  },
});
