// Command stage: the options every kernel-reading command shares (--kernel, --function, --flag).

import { InputError } from "../spec/errors.js";
import { KernelTree } from "../kernel/tree.js";
import { DEFAULT_FUNCTION } from "../kernel/locate.js";
import { slotFlagMacros } from "../checker/binding.js";
import { str, type Values } from "./command.js";

export const KERNEL_OPTIONS = {
  kernel: { type: "string" },
  function: { type: "string" },
  flag: { type: "string" },
} as const;

export const KERNEL_HELP = `--kernel DIR: a kernel source tree (read only). --function F: default ${DEFAULT_FUNCTION}.
--flag F: the memslot-flag spec whose KVM_MEM_* bit is the slotFlag input (default: any built-in flag's).`;

export async function flagMacros(values: Values): Promise<string[]> {
  return slotFlagMacros({ flag: str(values, "flag") });
}

export function openTree(dir: string): KernelTree {
  return KernelTree.open(dir);
}

export function kernelTree(values: Values): KernelTree {
  const dir = str(values, "kernel");
  if (!dir) throw new InputError("--kernel DIR is required");
  return openTree(dir);
}

/** What the kernel-reading commands pass on: the tree, the function, the slotFlag macros. */
export async function kernelOptions(values: Values) {
  return {
    tree: kernelTree(values),
    function: str(values, "function") ?? DEFAULT_FUNCTION,
    flagMacros: await flagMacros(values),
  };
}
