// Evidence that the checker catches wrong code: every single-point mutant of the Debian trees' vmx_get_mt_mask()
// is checked by kspec and by a gcc-compiled harness (an oracle that is not kspec). Every mutant that changes
// gcc's table must be reported as differing, and kspec's table must agree with gcc's on every row.

import { describe, expect, it } from "vitest";
import { describeRun, mutationRun } from "../scripts/mutate.js";
import { treeDir } from "./helpers/trees.js";

describe("mutation testing against the gcc oracle", () => {
  for (const v of ["6.1", "6.12"] as const) {
    it(`Debian ${v}: every semantic mutant differs, every equivalent one is equal, no disagreement`, async () => {
      const r = await mutationRun(treeDir(v), `linux-${v}`);
      const text = describeRun(r);
      expect(r.compilable, text).toBeGreaterThanOrEqual(25);
      expect(r.semantic, text).toBeGreaterThan(0);
      expect(r.semanticCaught, text).toBe(r.semantic);
      expect(r.equivalentEqual + r.unverifiableEquivalent, text).toBe(r.equivalent);
      expect(r.disagreements, text).toEqual([]);
    }, 300_000);
  }
});
