// Emit stage (tables): where two policies differ, as a commit message or cover letter shows it — the new
// behaviour grouped by outcome, with the effective memory type per guest PAT type, then what the old one did.

import { cubeOf, formatCube, mergeCubes } from "../spec/cubes.js";
import type { Env } from "../spec/evaluate.js";
import { comparePolicies, table } from "../spec/explain.js";
import { effectiveRow, type HazardFinding } from "../spec/hazards.js";
import type { Policy } from "../spec/ir.js";
import { describeMask, PAT_TYPES } from "../spec/memtypes.js";
import { wrapText } from "./cstyle.js";

/**
 * Where two policies differ, for a 75-column commit message: the new behaviour grouped by its outcome, then
 * what the old one did there. A row too wide for one line puts its condition on a line of its own.
 */
export function changeTable(p: Policy, q: Policy, indent = "  "): string {
  const cmp = comparePolicies(p, q);
  const side = (pick: "a" | "b") => {
    const groups = new Map<number, Env[]>();
    for (const g of cmp.groups) groups.set(g[pick].mask, [...(groups.get(g[pick].mask) ?? []), ...g.paths]);
    return [...groups].flatMap(([mask, paths]) =>
      mergeCubes(paths.map(cubeOf)).map((c) => [
        formatCube(c),
        describeMask(mask).replace(/ \(0x..\)$/, ""),
        ...effectiveRow(mask).map((e) => e.type),
      ]),
    );
  };
  const block = (title: string, rows: string[][]) => {
    const wide = table(["when", "EPT", ...PAT_TYPES], rows)
      .trimEnd()
      .split("\n");
    if (wide.every((l) => indent.length + l.length <= 75)) return [title, ...wide.map((l) => indent + l)];
    const narrow = table(
      ["EPT", ...PAT_TYPES],
      rows.map((r) => r.slice(1)),
    )
      .trimEnd()
      .split("\n");
    return [
      title,
      `${indent}  ${narrow[0]}`,
      ...rows.flatMap((r, i) => [wrapText(`${r[0]}:`, 75, indent), `${indent}  ${narrow[i + 1]}`]),
    ];
  };
  return [
    ...block(`${indent.slice(2)}after:`, side("a")),
    "",
    ...block(`${indent.slice(2)}before:`, side("b")),
  ].join("\n");
}

/** Hazards as commit-message list items ("  - #2 wb-ram-aliased: ... (when ...)"), wrapped by formatMessage. */
export function hazardItems(policy: Policy, hazards: readonly HazardFinding[]): string {
  if (!hazards.length) return "";
  return [
    `Hazards kspec finds in ${policy.name}:`,
    "",
    ...hazards.map(
      (h) => `  - #${h.domain} ${h.id}: ${h.title}, when ${h.rows.map(formatCube).join("; or when ")}.`,
    ),
  ].join("\n");
}
