// Write stage: a policy IR written back as a policy file — built with ts-morph, formatted with prettier, one
// comment per rule saying where in the C it came from. The inverse of load.ts + validate.ts.

import { dirname, relative } from "node:path";
import type { Outcome, Policy, Rule } from "./ir.js";
import { typeName, TYPE_CODE } from "./memtypes.js";

export interface WriteOptions {
  /** Where the file will live: the import of definePolicy is relative to it. */
  file: string;
  /** kspec's spec/dsl.ts, for that import. */
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

/** The TypeScript text of a policy file (not yet formatted). */
async function build(p: Policy, o: WriteOptions): Promise<string> {
  const { Project } = await import("ts-morph");
  const project = new Project({ useInMemoryFileSystem: true });
  const sf = project.createSourceFile("/policy.ts", "");
  let spec = relative(dirname(o.file), o.dsl).replace(/\\/g, "/").replace(/\.ts$/, ".js");
  if (!spec.startsWith(".")) spec = `./${spec}`;
  sf.addImportDeclaration({ namedImports: ["definePolicy"], moduleSpecifier: spec });
  sf.insertStatements(0, o.header.map((l) => `// ${l}`).join("\n"));
  const json = (v: unknown) => JSON.stringify(v);
  sf.addExportAssignment({
    isExportEquals: false,
    expression: (w) => {
      w.write("definePolicy(").inlineBlock(() => {
        w.writeLine(`name: ${json(p.name)},`);
        w.writeLine(`source: ${json(p.source)},`);
        if (p.summary) w.writeLine(`summary: ${json(p.summary)},`);
        w.write("rules: [").newLine();
        w.indent(() => {
          for (const r of p.rules) {
            const note = o.provenance(r);
            if (note) w.writeLine(`// ${note}`);
            w.write("{").newLine();
            w.indent(() => {
              w.writeLine(`name: ${json(r.name)},`);
              w.writeLine(`when: ${json(whenLiteral(r))},`);
              w.writeLine(`then: { type: ${json(typeLiteral(r.then))}, ipat: ${r.then.ipat} },`);
              if (r.overrides === "*" || r.overrides.length) w.writeLine(`overrides: ${json(r.overrides)},`);
              if (r.why) w.writeLine(`why: ${json(r.why)},`);
            });
            w.writeLine("},");
          }
        });
        w.writeLine("],");
        const note = o.provenance("default");
        if (note) w.writeLine(`// ${note}`);
        w.writeLine(
          `default: { type: ${json(typeLiteral(p.default))}, ipat: ${p.default.ipat}${p.default.why ? `, why: ${json(p.default.why)}` : ""} },`,
        );
      });
      w.write(")");
    },
  });
  return sf.getFullText();
}

export async function policyFileText(p: Policy, o: WriteOptions): Promise<string> {
  const prettier = await import("prettier");
  return prettier.format(await build(p, o), { parser: "typescript", printWidth: 110, trailingComma: "all" });
}
