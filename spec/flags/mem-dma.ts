// KVM_MEM_DMA: an alternative from the seed design thread (kvm list, Dec 2023), after the 2020 Google RFC of the
// same name: for a flagged slot, KVM looks up the memory type the host maps the PFN with (host PAT) and uses it,
// with IPAT. The thread notes lookup_memtype() and pgprot2cachemode() are not exported: the series adds an
// exported helper next to the x86 PAT code.
import { defineFlag } from "../dsl.js";

export default defineFlag({
  name: "mem-dma",
  macro: "KVM_MEM_DMA",
  helper: "kvm_slot_dma",
  capability: "KVM_CAP_DMA_MEM",
  proposal: "mem-dma",
  summary: "memory used for DMA; EPT type from the host's PAT type of the PFN, with IPAT",
  source:
    "seed design thread (kvm list, Dec 2023): the KVM_MEM_DMA alternative; 2020 Google RFC KVM_MEM_DMA + KVM_CAP_DMA_MEM",
  mutable: false,
  incompatible: ["KVM_MEM_GUEST_MEMFD"],
  arches: ["X86"],
  hostMemtype: true,
  doc: `The KVM_MEM_DMA flag tells KVM that the memory of the slot may be accessed by devices that do not snoop CPU caches. On x86 with EPT, KVM then maps each page of the slot with the memory type the host maps it with (its PAT type; UC- becomes UC) and sets the "ignore PAT" bit, so the guest's accesses use the same memory type as the host's. The flag cannot be set or cleared on an existing memory slot, and it cannot be combined with KVM_MEM_GUEST_MEMFD. Support is advertised by KVM_CAP_DMA_MEM.`,
  capDoc: `This capability indicates that KVM supports the KVM_MEM_DMA memory slot flag, with which userspace marks memory accessed by devices that do not snoop CPU caches, so that KVM maps it with the host's memory type.`,
  why: `A host GPU driver maps a virtio-gpu blob resource with a non-WB memory type, and the GPU reads it without snooping CPU caches. With no non-coherent DMA device assigned to the VM, KVM forces WB and sets the "ignore PAT" bit for all guest RAM, so the guest's writes stay in its caches and the GPU reads stale data. For a slot flagged KVM_MEM_DMA, KVM asks the x86 PAT code how the host maps the PFN and uses that memory type, so guest and host agree without trusting userspace or the guest.`,
});
