// Test helper: validates a command's --json output against the JSON Schema checked in under docs/schemas/ (what
// users of the output code against), with Ajv, so a schema that drifts from the real output fails a test.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { REPO } from "./run.js";

const ajv = new Ajv({ allErrors: true, strict: false });

/** The schema's errors for `json` ("" when it conforms), for one output name of docs/schemas/NAME.schema.json. */
export function schemaErrors(name: string, json: unknown): string {
  const schema = JSON.parse(readFileSync(join(REPO, "docs", "schemas", `${name}.schema.json`), "utf8"));
  const validate = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
  return validate(json) ? "" : ajv.errorsText(validate.errors, { separator: "\n" });
}
