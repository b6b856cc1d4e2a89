// Command stage: the options every kernel-reading command shares (--kernel, --function, --flag).

import { InputError } from "../spec/errors.js";
import { statSync } from "node:fs";
import { openRevision } from "../kernel/git.js";
import { KernelTree, requireKernel } from "../kernel/tree.js";
import { DEFAULT_FUNCTION } from "../kernel/locate.js";
import { slotFlagMacros } from "../checker/binding.js";
import { str, type Values } from "./command.js";

export const KERNEL_OPTIONS = {
  kernel: { type: "string" },
  function: { type: "string" },
  flag: { type: "string" },
} as const;

export const KERNEL_HELP = `--kernel DIR: a kernel source tree (read only); DIR@REV: a commit of the git repository DIR. --function F: default ${DEFAULT_FUNCTION}.
--flag F: the memslot-flag spec whose KVM_MEM_* bit is the slotFlag input (default: any built-in flag's).`;

export async function flagMacros(values: Values): Promise<string[]> {
  return slotFlagMacros({ flag: str(values, "flag") });
}

/**
 * A tree on disk, or `DIR@REV`: the tree of a commit of the repository DIR, read from git objects (no checkout).
 * A directory whose own name has an @ is a directory first.
 */
export function openTree(spec: string): KernelTree {
  const at = spec.lastIndexOf("@");
  if (at > 0 && !isDirectory(spec)) {
    const [dir, rev] = [spec.slice(0, at), spec.slice(at + 1)];
    if (!rev) throw new InputError(`${spec}: no revision after @`);
    const tree = openRevision(dir, rev);
    requireKernel(tree, spec);
    return tree;
  }
  return KernelTree.open(spec);
}

function isDirectory(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
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
