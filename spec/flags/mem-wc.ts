// KVM_MEM_WC: an alternative from the seed design thread (kvm list, Dec 2023): userspace promises that the host
// maps the slot WC, and KVM maps it WC with IPAT, whatever the guest's PAT says.
import { defineFlag } from "../dsl.js";

export default defineFlag({
  name: "mem-wc",
  macro: "KVM_MEM_WC",
  helper: "kvm_slot_wc",
  capability: "KVM_CAP_MEM_WC",
  proposal: "mem-wc",
  summary: "memory the host maps write-combining; EPT WC with IPAT",
  source: "seed design thread (kvm list, Dec 2023): the KVM_MEM_WC alternative",
  mutable: false,
  incompatible: ["KVM_MEM_GUEST_MEMFD"],
  arches: ["X86"],
  hostMemtype: false,
  doc: `The KVM_MEM_WC flag tells KVM that the host maps the memory of the slot write-combining, for example a buffer that a host GPU driver maps WC. On x86 with EPT, KVM then maps the slot with memory type WC and sets the "ignore PAT" bit, so guest accesses are WC whatever the guest's PAT says. The flag cannot be set or cleared on an existing memory slot, and it cannot be combined with KVM_MEM_GUEST_MEMFD. Support is advertised by KVM_CAP_MEM_WC.`,
  capDoc: `This capability indicates that KVM supports the KVM_MEM_WC memory slot flag, with which userspace marks memory that the host maps write-combining, so that KVM maps it WC for the guest.`,
  why: `A host GPU driver maps a virtio-gpu blob resource WC, and the GPU reads it without snooping CPU caches. With no non-coherent DMA device assigned to the VM, KVM forces WB and sets the "ignore PAT" bit for all guest RAM, so the guest's writes stay in its caches and the GPU reads stale data. Userspace knows how the host maps the buffer; with this flag it can tell KVM, and KVM maps the slot WC with "ignore PAT" set, matching the host mapping whatever the guest does.`,
});
