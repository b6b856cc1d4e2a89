// Command stage: how rules and rows are shown — shared by eval, check and the JSON documents.

import { ruleLabel } from "../spec/ir.js";
import type { Result } from "../spec/evaluate.js";
import { formatValue, type InputValue } from "../spec/vocabulary.js";

export function rowJson(inputs: ReadonlyMap<string, InputValue>, res: Result) {
  return {
    inputs: Object.fromEntries(inputs),
    mask: res.mask,
    type: res.type,
    ipat: res.ipat,
    rule: ruleLabel(res.rule),
  };
}

export function cell(v: InputValue | undefined): string {
  return v === undefined ? "-" : formatValue(v);
}
