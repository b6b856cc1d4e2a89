// Emit stage (VMX): where the policy's rules go in vmx_get_mt_mask() — a proposal's rules inserted next to the C
// statement that implements the rule they are anchored to, or the whole body regenerated from the policy — in
// the C spellings of the tree (generator/vmx) through templates/vmx-*.hbs.

import { Preprocessor } from "../kernel/cpp.js";
import { DEFAULT_FUNCTION, locateFunction } from "../kernel/locate.js";
import type { KernelTree } from "../kernel/tree.js";
import { InputError } from "../spec/errors.js";
import { explore, leafLookup, ruleMatches, type Env } from "../spec/evaluate.js";
import type { Flag } from "../spec/flags.js";
import type { Policy, Rule } from "../spec/ir.js";
import { render } from "./render.js";
import type { Edit } from "./steps.js";
import { endOfLine, insertAt, parameters, replaceRange, startOfLine } from "./text.js";
import { functionView, Spellings, type Params } from "./vmx.js";

/** How the function refers to what it is handed, from its own parameter list. */
export function vmxParams(tree: KernelTree): Params {
  const loc = locateFunction(tree, DEFAULT_FUNCTION);
  const ps = parameters(loc.node).params;
  const by = (re: RegExp) => ps.find((p) => re.test(p.type))?.name;
  const vcpu = by(/kvm_vcpu/);
  const gfn = by(/^gfn_t$/);
  if (!vcpu || !gfn)
    throw new InputError(
      `${loc.info.file}: ${DEFAULT_FUNCTION}() does not take (vcpu, gfn, ...) as kspec knows it`,
    );
  return {
    vcpu,
    gfn,
    names: ps.flatMap((p) => (p.name ? [p.name] : [])),
    slot: by(/kvm_memory_slot/),
    pfn: by(/^kvm_pfn_t$/),
  };
}

/** The contiguous block of rules the proposals of `p` added, and where it went. */
export function insertedBlock(
  p: Policy,
): { rules: Rule[]; base: Rule[]; anchor: "after" | "before"; ref: Rule } | undefined {
  const proposals = new Set(p.name.split("+").slice(1));
  const idx = p.rules.map((r, i) => [r, i] as const).filter(([r]) => proposals.has(r.origin));
  if (!idx.length) return undefined;
  const first = idx[0][1];
  const last = idx[idx.length - 1][1];
  if (last - first + 1 !== idx.length) return undefined;
  const rules = idx.map(([r]) => r);
  const base = p.rules.filter((r) => !proposals.has(r.origin));
  if (first > 0) return { rules, base, anchor: "after", ref: p.rules[first - 1] };
  if (last + 1 < p.rules.length) return { rules, base, anchor: "before", ref: p.rules[last + 1] };
  return undefined;
}

/**
 * The VMX edit. `table` is the C's table as it stands (every path, with the return that decides it): inserting
 * next to the anchor needs to know which top-level statement of the C implements the anchor rule.
 */
export function vmxEdit(
  tree: KernelTree,
  flag: Flag | undefined,
  policy: Policy,
  table: readonly { env: Env; ret: { line: number } }[],
  rewrite: boolean,
): { edit: Edit; mode: "insert" | "rewrite" } {
  const loc = locateFunction(tree, DEFAULT_FUNCTION);
  const text = tree.read(loc.info.file)!;
  const s = new Spellings(tree, new Preprocessor(tree, loc.info.file), vmxParams(tree), flag);
  const body = loc.node.childForFieldName("body")!;
  const block = rewrite ? undefined : insertedBlock(policy);
  if (block) {
    // Wherever the base part of the policy decides by the anchor rule, which top-level statement of the C returns?
    const c = leafLookup(table);
    const lines = new Set<number>();
    for (const leaf of explore(
      (env) => [block.base.findIndex((r) => ruleMatches(r, env)), c(env).ret.line] as const,
    )) {
      if (block.base[leaf.value[0]] === block.ref) lines.add(leaf.value[1]);
    }
    const stmts = body.namedChildren.filter((st) =>
      [...lines].some((l) => st.startPosition.row + 1 <= l && l <= st.endPosition.row + 1),
    );
    if (stmts.length === 1 && stmts[0].type === "if_statement") {
      const frag = render("vmx-rules.c", functionView(policy, block.rules, s));
      const at =
        block.anchor === "after"
          ? endOfLine(text, stmts[0].endIndex)
          : startOfLine(text, stmts[0].startIndex);
      const insertion = block.anchor === "after" ? frag : frag.replace(/^\n/, "") + "\n";
      return { edit: [loc.info.file, insertAt(text, at, insertion)], mode: "insert" };
    }
  }
  const view = functionView(policy, policy.rules, s);
  return {
    edit: [
      loc.info.file,
      replaceRange(text, body.startIndex, body.endIndex, render("vmx-body.c", view).replace(/\n$/, "")),
    ],
    mode: "rewrite",
  };
}
