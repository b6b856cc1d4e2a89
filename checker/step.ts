// Check stage (per step): all the generator asks of the analysis floor — the verdict of a tree state against a
// policy (with the C's table when equal, by which edits are placed), and the tree's own function as a policy
// (what a bare proposal is applied to). One narrow door, so that the generator depends on nothing else here.

export { checkTree, type Verdict } from "./check.js";
export { importTree as treeAsPolicy, type ImportedPolicy } from "./import.js";
