// Docs stage (schemas): the JSON Schema of every --json output, generated from the types in cli/json-types.ts
// (ts-json-schema-generator reads them with the TypeScript compiler's own checker). One file per output.

import { createRequire } from "node:module";
import { join } from "node:path";
import { writeFileAtomic } from "../cli/io.js";
import { ROOT } from "../spec/root.js";

/** The outputs and the type that describes each. */
export const OUTPUTS: Readonly<Record<string, string>> = {
  check: "CheckJson",
  extract: "ExtractJson",
  diff: "DiffJson",
  log: "LogJson",
  "verify-patch": "VerifyJson",
  sync: "SyncJson",
  list: "ListJson",
  eval: "EvalJson",
  explain: "ExplainJson",
  "explain-vs": "ExplainVsJson",
};

export async function writeSchemas(dir: string): Promise<void> {
  const { createGenerator } = createRequire(import.meta.url)(
    "ts-json-schema-generator",
  ) as typeof import("ts-json-schema-generator");
  const generator = createGenerator({
    path: join(ROOT, "cli", "json-types.ts"),
    tsconfig: join(ROOT, "tsconfig.json"),
    skipTypeCheck: true,
    additionalProperties: false,
    sortProps: true,
    topRef: true,
  });
  for (const [name, type] of Object.entries(OUTPUTS)) {
    const schema = generator.createSchema(type);
    const doc = {
      ...schema,
      $id: `https://kspec.invalid/schemas/${name}.schema.json`,
      title: `kspec ${name.replace("-vs", " --vs")} --json`,
    };
    writeFileAtomic(join(dir, `${name}.schema.json`), JSON.stringify(doc, null, 2) + "\n");
  }
}
