// Command stage: how policies, rules and scenarios are shown — shared by eval, explain and check.

import type { Policy, Rule } from "../spec/ir.js";
import { formatLoc } from "../spec/ir.js";
import type { Result } from "../spec/evaluate.js";
import { describeMask, PAT_TYPES } from "../spec/memtypes.js";
import { effectiveRow } from "../spec/hazards.js";
import { formatValue, type InputValue } from "../spec/vocabulary.js";

export function ruleName(r: Rule | null): string {
  return r ? r.name : "default";
}

export function ruleWhere(p: Policy, r: Rule | null): string {
  return formatLoc(r ? r.loc : p.default.loc);
}

export function rowJson(inputs: ReadonlyMap<string, InputValue>, res: Result) {
  return {
    inputs: Object.fromEntries(inputs),
    mask: res.mask,
    type: res.type,
    ipat: res.ipat,
    rule: ruleName(res.rule),
  };
}

export const PAT_HEADERS = PAT_TYPES.map((t) => t);

export function effectiveCells(mask: number): string[] {
  return effectiveRow(mask).map((e) => e.type);
}

export function cell(v: InputValue | undefined): string {
  return v === undefined ? "-" : formatValue(v);
}

export { describeMask };
