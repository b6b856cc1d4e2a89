// Test helper: the git history of vmx_get_mt_mask() that scripts/history.ts builds, made from the Debian 6.12
// tree the tests use.

import { buildHistory as build, type History } from "../../scripts/history.js";
import { treeDir } from "./trees.js";

export type { History };

export function buildHistory(): History {
  return build(treeDir("6.12"));
}
