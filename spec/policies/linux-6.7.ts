// Linux 6.7: vmx_get_mt_mask() after "KVM: VMX: drop IPAT in memtype when CD=1 for KVM_X86_QUIRK_CD_NW_CLEARED"
// (merged for 6.7): with CR0.CD and the quirk the EPT type is WB *without* IPAT, so guest PAT combines;
// everything else is as in linux-6.1.
import { definePolicy } from "../dsl.js";

export default definePolicy({
  name: "linux-6.7",
  source: "Linux 6.7, arch/x86/kvm/vmx/vmx.c vmx_get_mt_mask() (the CD quirk change of the 6.7 merge window)",
  summary: "as linux-6.1, but CR0.CD with the CD_NW_CLEARED quirk gives WB without IPAT",
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
      overrides: ["cd-quirk", "cd"],
      why: "No non-coherent DMA: ignore guest CD/MTRR/PAT and force WB.",
    },
    {
      name: "cd-quirk",
      when: { cr0Cd: true, quirkCdNwCleared: true },
      then: { type: "WB", ipat: false },
      why: "CR0.CD with KVM_X86_QUIRK_CD_NW_CLEARED: WB, and let guest PAT combine (no IPAT).",
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
