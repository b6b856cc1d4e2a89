// Write stage: a policy IR written back as a policy file — built as text, laid out by prettier, one
// comment per rule saying where in the C it came from. The inverse of load.ts + validate.ts.

import { dirname, isAbsolute, relative } from "node:path";
import type { Outcome, Policy, Rule } from "./ir.js";
import { requirePackage } from "./packages.js";
import { typeName, TYPE_CODE } from "./memtypes.js";

export interface WriteOptions {
  /** Where the file will live: the import of definePolicy is relative to it. */
  file: string;
  /** kspec's spec/dsl.ts for a relative import (a file in kspec's own repository), or a package name ("kspec"). */
  dsl: string;
  header: string[];
  /** One comment line per rule (and "default"), e.g. the C file:line it came from. */
  provenance: (r: Rule | "default") => string | undefined;
}

function typeLiteral(o: Outcome): unknown {
  if (o.type.kind === "const") return typeName(o.type.code);
  const remapped = Object.entries(o.type.map).filter(
    ([v, code]) => TYPE_CODE[v as keyof typeof TYPE_CODE] !== code,
  );
  if (!remapped.length) return o.type.input;
  return { from: o.type.input, map: Object.fromEntries(remapped.map(([v, code]) => [v, typeName(code)])) };
}

function whenLiteral(r: Rule): Record<string, unknown> {
  return Object.fromEntries(
    r.when.map((c) => [c.input, c.values.length === 1 ? c.values[0] : [...c.values]]),
  );
}

/** The TypeScript text of a policy file (not yet formatted: prettier lays it out). */
function build(p: Policy, o: WriteOptions): string {
  let spec = isAbsolute(o.dsl)
    ? relative(dirname(o.file), o.dsl).replace(/\\/g, "/").replace(/\.ts$/, ".js")
    : o.dsl;
  if (isAbsolute(o.dsl) && !spec.startsWith(".")) spec = `./${spec}`;
  const json = (v: unknown) => JSON.stringify(v);
  const lines: string[] = [...o.header.map((l) => `// ${l}`)];
  lines.push(`import { definePolicy } from ${json(spec)};`, "", "export default definePolicy({");
  lines.push(`name: ${json(p.name)},`, `source: ${json(p.source)},`);
  if (p.summary) lines.push(`summary: ${json(p.summary)},`);
  lines.push("rules: [");
  for (const r of p.rules) {
    const note = o.provenance(r);
    if (note) lines.push(`// ${note}`);
    lines.push("{", `name: ${json(r.name)},`, `when: ${json(whenLiteral(r))},`);
    lines.push(`then: { type: ${json(typeLiteral(r.then))}, ipat: ${r.then.ipat} },`);
    if (r.overrides === "*" || r.overrides.length) lines.push(`overrides: ${json(r.overrides)},`);
    if (r.why) lines.push(`why: ${json(r.why)},`);
    lines.push("},");
  }
  lines.push("],");
  const note = o.provenance("default");
  if (note) lines.push(`// ${note}`);
  const why = p.default.why ? `, why: ${json(p.default.why)}` : "";
  lines.push(`default: { type: ${json(typeLiteral(p.default))}, ipat: ${p.default.ipat}${why} },`, "});");
  return lines.join("\n") + "\n";
}

export async function policyFileText(p: Policy, o: WriteOptions): Promise<string> {
  // Not import(): the command runs from a bundle compiled by vm (cli/launch.cts), which cannot import().
  const prettier = requirePackage<typeof import("prettier")>("prettier");
  return prettier.format(build(p, o), { parser: "typescript", printWidth: 110, trailingComma: "all" });
}
