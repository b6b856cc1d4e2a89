// The goldens in out/ are kspec's own output for the Debian trees: regenerated here, they must not differ by a
// byte (CI fails on any difference; scripts/goldens.sh regenerates them on purpose).

import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { expect, it } from "vitest";
import { REPO } from "./helpers/run.js";
import { sh } from "./helpers/kernel.js";

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

it("out/ is what scripts/goldens.sh generates", () => {
  const fresh = mkdtempSync(join(tmpdir(), "kspec-goldens-"));
  const r = sh("bash", [join(REPO, "scripts", "goldens.sh"), fresh]);
  expect(r.code, r.out).toBe(0);
  const golden = join(REPO, "out");
  expect(files(fresh)).toEqual(files(golden));
  expect(files(golden).length).toBeGreaterThanOrEqual(4 * 5);
  for (const f of files(golden))
    expect(readFileSync(join(fresh, f), "utf8"), f).toBe(readFileSync(join(golden, f), "utf8"));
}, 600_000);
