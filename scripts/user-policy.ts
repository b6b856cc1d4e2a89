// Build stage (fixtures): a policy file of the user's own, as the benchmarks, the code-cache training and the
// launch test need one: the built-in 6.12 policy's text in a file outside kspec, so that it is read by the parser
// (@babel/parser) and not found in the build-time cache, importing definePolicy from kspec's dsl by absolute path.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { POLICY_DIR, ROOT } from "../spec/root.js";

/** Writes that file at `file` and gives its path. */
export function writeUserPolicy(file: string): string {
  writeFileSync(
    file,
    readFileSync(join(POLICY_DIR, "linux-6.12.ts"), "utf8").replace(
      /from "\.\.\/dsl\.js"/,
      `from ${JSON.stringify(join(ROOT, "spec", "dsl.js"))}`,
    ),
  );
  return file;
}
