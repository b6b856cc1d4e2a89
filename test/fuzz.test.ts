// Evidence that the checker survives odd code: a bounded, seeded fuzzing run over the real functions and the
// C fixtures must end with no crash and no `equal` the gcc oracle contradicts.

import { expect, it } from "vitest";
import { describeFuzz, fuzz } from "../scripts/fuzz.js";

it("fuzzing: no crash, no unsound equal", async () => {
  const r = await fuzz({ count: 400, seconds: 60, seed: 20261126 });
  const text = describeFuzz(r);
  expect(r.cases, text).toBeGreaterThan(20);
  expect(r.crashes, text).toEqual([]);
  expect(r.unsound, text).toEqual([]);
}, 180_000);
