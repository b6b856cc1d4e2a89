// Command stage: the options every kernel-reading command shares (--kernel, --function, --flag).

import { InputError } from "../spec/errors.js";
import { defaultFlagMacros, loadFlag } from "../spec/flags.js";
import { KernelTree } from "../checker/tree.js";
import { DEFAULT_FUNCTION, openFunction } from "../checker/extract.js";
import { str, type Values } from "./command.js";

export const KERNEL_OPTIONS = {
  kernel: { type: "string" },
  function: { type: "string" },
  flag: { type: "string" },
} as const;

export const KERNEL_HELP = `--kernel DIR: a kernel source tree (read only). --function F: default ${DEFAULT_FUNCTION}.
--flag F: the memslot-flag spec whose KVM_MEM_* bit is the slotFlag input (default: any built-in flag's).`;

export async function flagMacros(values: Values): Promise<string[]> {
  const f = str(values, "flag");
  return f ? [(await loadFlag(f)).macro] : defaultFlagMacros();
}

export function kernelTree(values: Values): KernelTree {
  const dir = str(values, "kernel");
  if (!dir) throw new InputError("--kernel DIR is required");
  return KernelTree.open(dir);
}

export async function openKernelFunction(values: Values, tree: KernelTree = kernelTree(values)) {
  return openFunction(tree, str(values, "function") ?? DEFAULT_FUNCTION, await flagMacros(values));
}
