// KVM_MEM_NON_COHERENT_DMA: the memslot flag the KVM maintainer asked for in the seed design thread (kvm list,
// Dec 2023) and the Jan 2024 series that implemented it: userspace marks memory that a device reads or writes
// without snooping CPU caches (a virtio-gpu blob mapped by the host GPU driver), and KVM honors the guest's PAT
// for it instead of forcing WB. The flag cannot change on an existing slot.
import { defineFlag } from "../dsl.js";

export default defineFlag({
  name: "non-coherent-dma",
  macro: "KVM_MEM_NON_COHERENT_DMA",
  helper: "kvm_slot_non_coherent_dma",
  capability: "KVM_CAP_USER_CONFIGURE_NONCOHERENT_DMA",
  proposal: "non-coherent-dma",
  summary: "memory accessed by non-coherent DMA; guest PAT honored",
  source: "seed design thread (kvm list, Dec 2023) and the Jan 2024 KVM_MEM_NON_COHERENT_DMA series",
  mutable: false,
  incompatible: ["KVM_MEM_GUEST_MEMFD"],
  arches: ["X86"],
  hostMemtype: false,
  doc: `The KVM_MEM_NON_COHERENT_DMA flag tells KVM that devices may access the memory of the slot without snooping CPU caches, for example a buffer that a host GPU reads directly. On x86 with EPT, KVM then maps the slot with memory type WB and does not set the "ignore PAT" bit, so the guest's PAT decides the effective memory type and a guest driver that maps the buffer WC or UC gets WC or UC. The flag cannot be set or cleared on an existing memory slot, and it cannot be combined with KVM_MEM_GUEST_MEMFD. Support is advertised by KVM_CAP_USER_CONFIGURE_NONCOHERENT_DMA.`,
  capDoc: `This capability indicates that KVM supports the KVM_MEM_NON_COHERENT_DMA memory slot flag, with which userspace marks memory accessed by devices that do not snoop CPU caches, so that KVM honors the guest's PAT for it.`,
  why: `Devices that access guest memory without snooping CPU caches, such as a host GPU reading a virtio-gpu blob resource that the host maps WC, need the guest to map that memory non-cacheable. With no non-coherent DMA device assigned to the VM, KVM forces WB and sets the "ignore PAT" bit for all guest RAM, so the guest's writes stay in its caches and the device reads stale data. Letting userspace mark such a slot, rather than the whole VM, keeps WB for the rest of guest memory, and the slot is already at hand when the SPTE is made, so the test costs nothing on the fast path.`,
});
