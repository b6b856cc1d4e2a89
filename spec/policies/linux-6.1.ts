// Linux 6.1: vmx_get_mt_mask() in arch/x86/kvm/vmx/vmx.c, as in Debian's linux-source-6.1.
// Guest CD/MTRR are honored when the VM has non-coherent DMA; CR0.CD with KVM_X86_QUIRK_CD_NW_CLEARED gives
// WB|IPAT, without the quirk UC|IPAT; otherwise the guest MTRR type with IPAT clear (guest PAT combines).
import { definePolicy } from "../dsl.js";

export default definePolicy({
  name: "linux-6.1",
  source: "Linux 6.1, arch/x86/kvm/vmx/vmx.c vmx_get_mt_mask() (Debian linux-source-6.1)",
  summary: "MTRR-honoring with non-coherent DMA; CR0.CD with the CD_NW_CLEARED quirk gives WB|IPAT",
  rules: [
    {
      name: "mmio",
      when: { isMmio: true },
      then: { type: "UC", ipat: false },
      overrides: "*",
      why: "Force UC for host MMIO: cacheable accesses to MMIO cause machine checks.",
    },
    {
      name: "coherent",
      when: { noncoherentDma: false },
      then: { type: "WB", ipat: true },
      overrides: ["cd"],
      why: "No non-coherent DMA: ignore guest CD/MTRR/PAT and force WB.",
    },
    {
      name: "cd-quirk",
      when: { cr0Cd: true, quirkCdNwCleared: true },
      then: { type: "WB", ipat: true },
      why: "CR0.CD with KVM_X86_QUIRK_CD_NW_CLEARED: treat caching-disabled as WB.",
    },
    {
      name: "cd",
      when: { cr0Cd: true, quirkCdNwCleared: false },
      then: { type: "UC", ipat: true },
      why: "CR0.CD without the quirk: the guest asked for caching disabled.",
    },
  ],
  default: {
    type: "guestMtrr",
    ipat: false,
    why: "Otherwise honor the guest MTRR type; guest PAT combines with it.",
  },
});
